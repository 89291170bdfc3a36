-- A timer whose row cannot make a reminder is parked with the reason, instead of failing
-- every round ahead of all the timers due after it.
ALTER TABLE scheduling.timers DROP CONSTRAINT timers_state_check;
ALTER TABLE scheduling.timers ADD CONSTRAINT timers_state_check
    CHECK (state IN ('pending', 'fired', 'cancelled', 'parked'));
ALTER TABLE scheduling.timers ADD COLUMN parked_reason text;
