-- Where actions come from, learned from other services' events.
CREATE TABLE action_tracking.origins (
    trust_id  uuid NOT NULL,
    origin_id uuid NOT NULL,
    kind      text NOT NULL,
    school_id uuid NOT NULL,
    label     text NOT NULL,
    PRIMARY KEY (trust_id, origin_id)
);
