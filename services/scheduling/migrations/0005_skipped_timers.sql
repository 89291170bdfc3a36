-- A timer found due late whose reminder a later one says better, or whose words are no longer
-- true, is skipped with the reason; `reason` also says why a timer was parked.
ALTER TABLE scheduling.timers DROP CONSTRAINT timers_state_check;
ALTER TABLE scheduling.timers ADD CONSTRAINT timers_state_check
    CHECK (state IN ('pending', 'fired', 'cancelled', 'parked', 'skipped'));
ALTER TABLE scheduling.timers RENAME COLUMN parked_reason TO reason;
