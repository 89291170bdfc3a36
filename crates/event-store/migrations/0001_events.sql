-- The one event store. Every service appends here; nothing updates or deletes rows.
CREATE TABLE event_store.events (
    -- Insertion order. NOT commit order: sequences are handed out before commit, so a
    -- reader must never treat "position > last seen" as "everything new" (see tx_id).
    position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The inserting transaction (pg_current_xact_id). Readers only read rows whose
    -- transaction is older than every transaction still running, and order by
    -- (tx_id, position): a transaction that commits late can never be skipped.
    tx_id          bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL CHECK (stream_version > 0),
    event_id       uuid NOT NULL,
    event_type     text NOT NULL,
    schema_version integer NOT NULL CHECK (schema_version > 0),
    trust_id       uuid NOT NULL,
    actor_id       uuid NOT NULL,
    causation_id   uuid,
    correlation_id uuid NOT NULL,
    command_id     uuid,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    payload        jsonb NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_commit_order ON event_store.events (tx_id, position);
CREATE INDEX events_command ON event_store.events (command_id) WHERE command_id IS NOT NULL;

-- The store is append-only: refuse updates and deletes outright, so that only someone who
-- can drop this trigger (a superuser doing surgery) can rewrite history.
CREATE FUNCTION event_store.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'event_store.events is append-only';
END $$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON event_store.events
    FOR EACH ROW EXECUTE FUNCTION event_store.refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON event_store.events
    FOR EACH STATEMENT EXECUTE FUNCTION event_store.refuse_change();
