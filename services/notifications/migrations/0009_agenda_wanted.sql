-- Meetings' day-before reminders waiting for review dialogue to list the previous meeting's
-- actions (waymark_notifications::agenda): asked for outside the events consumer's
-- transaction, then recorded as notices. One row per reminder event and person.
CREATE TABLE notifications.agenda_wanted (
    notice_key   text PRIMARY KEY,
    trust_id     uuid NOT NULL,
    recipient_id uuid NOT NULL,
    notice       jsonb NOT NULL,
    wanted_at    timestamptz NOT NULL
);
CREATE INDEX agenda_wanted_by_time ON notifications.agenda_wanted (wanted_at);
