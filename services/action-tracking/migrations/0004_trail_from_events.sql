-- The audit trail is read from the chained events themselves (what the hash covers), so the
-- chain keeps only the links and what the trail is looked up by. The copies of the event's
-- data it held (summary, reason, details, actor, time, type) could be edited without the
-- chain noticing; they are gone. `action_id` and `school_id` stay, and verification checks
-- them against the events.
DROP INDEX IF EXISTS action_tracking.audit_by_school;
DROP INDEX IF EXISTS action_tracking.audit_by_actor;
ALTER TABLE action_tracking.audit_chain
    DROP COLUMN summary,
    DROP COLUMN reason,
    DROP COLUMN details,
    DROP COLUMN actor_id,
    DROP COLUMN recorded_at,
    DROP COLUMN event_type;
CREATE INDEX audit_by_school ON action_tracking.audit_chain (trust_id, school_id, seq);
