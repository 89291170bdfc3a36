-- Invitation e-mails for notifications, queued by the page that issued the invitation and sent
-- afterwards by the outbox sender (src/invitation_mail.rs), so no page waits on notifications.
-- A row, and the link in it, is kept only until notifications has taken the e-mail; a newer
-- invitation for the same person replaces it.
CREATE TABLE gateway.invitation_outbox (
    command_id   uuid PRIMARY KEY,
    trust_id     uuid NOT NULL,
    -- Who issued the invitation: notifications is asked on their behalf.
    actor_id     uuid NOT NULL,
    staff_id     uuid NOT NULL,
    display_name text NOT NULL,
    email        text NOT NULL,
    link         text NOT NULL,
    trust_name   text NOT NULL
);
CREATE INDEX invitation_outbox_by_person ON gateway.invitation_outbox (trust_id, staff_id);
