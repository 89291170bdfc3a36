-- What the authorization policies read: the service's own copy of the directory, and who
-- agreed or set each action.
CREATE TABLE action_tracking.directories (
    trust_id uuid PRIMARY KEY,
    doc      jsonb NOT NULL,
    version  bigint NOT NULL
);

ALTER TABLE action_tracking.actions ADD COLUMN agreed_by uuid;

-- Actions from before: whoever created them, unless that was their owner agreeing a record
-- (only actions set directly are steered by the person who set them for themselves).
UPDATE action_tracking.actions a
SET agreed_by = e.actor_id
FROM event_store.events e
WHERE e.stream_id = 'action-' || a.action_id::text
  AND e.stream_version = 1
  AND (a.origin_kind = 'direct' OR e.actor_id <> a.owner_id);
