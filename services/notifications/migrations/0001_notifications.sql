-- People as notifications knows them. Personal data lives here, in rows that can be
-- corrected and deleted, never in events.
CREATE TABLE notifications.contacts (
    trust_id        uuid NOT NULL,
    staff_id        uuid NOT NULL,
    display_name    text NOT NULL,
    email           text,
    line_manager_id uuid,
    school_id       uuid,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, staff_id)
);

CREATE TABLE notifications.preferences (
    trust_id       uuid NOT NULL,
    staff_id       uuid NOT NULL,
    email          boolean NOT NULL DEFAULT true,
    webhook        boolean NOT NULL DEFAULT false,
    -- 'immediate', 'daily' or 'weekly': how non-urgent notices arrive.
    mode           text NOT NULL DEFAULT 'immediate' CHECK (mode IN ('immediate', 'daily', 'weekly')),
    weekly_digest  boolean NOT NULL DEFAULT true,
    quiet_from     time,
    quiet_to       time,
    PRIMARY KEY (trust_id, staff_id)
);

CREATE TABLE notifications.schools (
    trust_id    uuid NOT NULL,
    school_id   uuid NOT NULL,
    webhook_url text,
    PRIMARY KEY (trust_id, school_id)
);

-- Copies of what notifications needs from other services' events.
CREATE TABLE notifications.calendars (
    trust_id  uuid NOT NULL,
    school_id uuid NOT NULL,
    doc       jsonb NOT NULL,
    version   bigint NOT NULL,
    PRIMARY KEY (trust_id, school_id)
);

CREATE TABLE notifications.records (
    trust_id  uuid NOT NULL,
    record_id uuid NOT NULL,
    kind      text NOT NULL,
    school_id uuid NOT NULL,
    people    jsonb NOT NULL,
    PRIMARY KEY (trust_id, record_id)
);

-- Every notice: the in-app inbox, and what digests gather.
CREATE TABLE notifications.notices (
    notice_id    uuid PRIMARY KEY,
    trust_id     uuid NOT NULL,
    recipient_id uuid NOT NULL,
    school_id    uuid,
    kind         text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL,
    link         text NOT NULL,
    urgent       boolean NOT NULL,
    event_id     uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    read_at      timestamptz,
    -- 'none' (sent as it came), 'pending' (waits for the recipient's digest), 'sent'.
    digest       text NOT NULL DEFAULT 'none'
);

CREATE INDEX notices_inbox ON notifications.notices (trust_id, recipient_id, created_at DESC);
CREATE INDEX notices_pending_digest ON notifications.notices (trust_id, recipient_id) WHERE digest = 'pending';

-- The delivery log. `key` (event + recipient + channel, or digest + recipient + period) is
-- unique: a second delivery of the same thing cannot even be recorded.
CREATE TABLE notifications.deliveries (
    delivery_id     uuid PRIMARY KEY,
    key             text NOT NULL UNIQUE,
    trust_id        uuid NOT NULL,
    recipient_id    uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'parked')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    last_error      text,
    message         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

CREATE INDEX deliveries_due ON notifications.deliveries (next_attempt_at) WHERE state IN ('queued', 'sending');
CREATE INDEX deliveries_by_trust ON notifications.deliveries (trust_id, state, created_at DESC);

-- Digests sent (or found empty), by person and period, so none goes twice.
CREATE TABLE notifications.digests (
    trust_id   uuid NOT NULL,
    staff_id   uuid NOT NULL,
    period     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, staff_id, period)
);
