-- A reminder still waiting to go out when its subject is done, dropped, carried forward,
-- agreed or cancelled — or when its date has passed — is dropped, not sent late.
CREATE TABLE notifications.closed_subjects (
    trust_id   uuid NOT NULL,
    subject_id uuid NOT NULL,
    reason     text NOT NULL,
    closed_at  timestamptz NOT NULL,
    PRIMARY KEY (trust_id, subject_id)
);
ALTER TABLE notifications.deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE notifications.deliveries
    ADD CONSTRAINT deliveries_state_check CHECK (state IN ('queued', 'sending', 'sent', 'parked', 'dropped'));
