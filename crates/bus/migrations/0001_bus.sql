-- Where each reader of the event store stands (projections, in-process consumers, the relay).
CREATE TABLE bus.checkpoints (
    name       text PRIMARY KEY,
    tx_id      bigint NOT NULL DEFAULT 0,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Events each JetStream consumer has applied, written in the same transaction as the effect:
-- a redelivered event finds its row and is acknowledged without being applied again.
CREATE TABLE bus.processed (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events a consumer could not handle at all (a bug or a malformed message). They are skipped
-- so the rest keep flowing, and kept here for someone to look at.
CREATE TABLE bus.dead_letters (
    consumer    text NOT NULL,
    event_id    uuid NOT NULL,
    error       text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
