-- Which school each generated monitoring year (scheduling's `schedule` stream) belongs to,
-- so that its occurrences can be recorded as places actions come from.
CREATE TABLE action_tracking.occurrence_schedules (
    trust_id  uuid NOT NULL,
    stream_id text NOT NULL,
    school_id uuid NOT NULL,
    PRIMARY KEY (trust_id, stream_id)
);
