-- Readers follow the log in position order, and wait only for transactions that append.
--
-- Positions come from the identity sequence, handed out when a row is inserted, not when it
-- commits. Before its first insert, every appending transaction takes a shared advisory lock
-- (held until it ends) that records the sequence's last value at that moment: every position
-- it will take is above that value. A reader's horizon is the lowest such value among
-- transactions appending now, or else the sequence's last value: no event at or below the
-- horizon can still commit. The transaction id kept in `tx_id` is no longer used for order
-- (it does not survive a move to another cluster); it stays as a record and in hashes.

-- One position at a time: a session-local cache would hand out positions below the last
-- value another session has read.
ALTER TABLE event_store.events ALTER COLUMN position SET CACHE 1;

DROP INDEX event_store.events_commit_order;

-- Declares that the current transaction is about to append. Once per transaction (the
-- first declaration has the lowest value); the lock is released at commit or rollback, and
-- by the rollback of a savepoint it was taken in, together with the setting.
CREATE FUNCTION event_store.begin_append() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    below bigint;
BEGIN
    IF coalesce(current_setting('waymark.append_horizon', true), '') <> '' THEN
        RETURN;
    END IF;
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO below
        FROM event_store.events_position_seq;
    -- Two 32-bit keys carry the 64-bit value; 0x57414d31 and 0x57414d32 ('WAM1', 'WAM2')
    -- mark them as ours.
    PERFORM pg_advisory_xact_lock_shared(1463897393, (below >> 32)::int);
    PERFORM pg_advisory_xact_lock_shared(1463897394, (below & 4294967295)::bit(32)::int);
    PERFORM set_config('waymark.append_horizon', below::text, true);
END $$;

-- The highest position below which every event has committed or rolled back. The order of
-- the two reads matters: a position at or below the sequence value read first was handed out
-- before the locks are read, so its transaction either still holds its lock (and lowers the
-- horizon) or has ended.
CREATE FUNCTION event_store.read_horizon() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    handed_out bigint;
    appending bigint;
BEGIN
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO handed_out
        FROM event_store.events_position_seq;
    SELECT min((hi.objid::bigint << 32) | lo.objid::bigint) INTO appending
        FROM pg_locks hi
        JOIN pg_locks lo ON lo.virtualtransaction = hi.virtualtransaction
        WHERE hi.locktype = 'advisory' AND lo.locktype = 'advisory'
          AND hi.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND lo.database = hi.database
          AND hi.classid = 1463897393 AND hi.objsubid = 2
          AND lo.classid = 1463897394 AND lo.objsubid = 2;
    RETURN least(handed_out, appending);
END $$;
