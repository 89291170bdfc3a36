-- The directory's read model: one row per trust holding the directory decider's state.
CREATE TABLE gateway.directories (
    trust_id uuid PRIMARY KEY,
    doc      jsonb NOT NULL,
    version  bigint NOT NULL
);

-- Personal data: names and e-mail addresses. Kept here, never in events, so it can be
-- corrected and erased.
CREATE TABLE gateway.people (
    trust_id     uuid NOT NULL,
    staff_id     uuid NOT NULL,
    display_name text NOT NULL,
    email        text,
    PRIMARY KEY (trust_id, staff_id)
);

-- Local sign-in is by e-mail address, so an address names one person in the installation.
CREATE UNIQUE INDEX people_email ON gateway.people (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE gateway.passwords (
    trust_id   uuid NOT NULL,
    staff_id   uuid NOT NULL,
    hash       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, staff_id)
);

-- Single sign-on identities, matched by issuer and subject, never by e-mail alone.
CREATE TABLE gateway.identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    trust_id   uuid NOT NULL,
    staff_id   uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);

-- One-time invitations: how a new member of staff first signs in (sets a password or links
-- their Microsoft or Google account). Only a hash of the token is kept.
CREATE TABLE gateway.invitations (
    token_hash bytea PRIMARY KEY,
    trust_id   uuid NOT NULL,
    staff_id   uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Server-side sessions; the cookie holds a random token, the table only its hash.
CREATE TABLE gateway.sessions (
    token_hash   bytea PRIMARY KEY,
    trust_id     uuid NOT NULL,
    staff_id     uuid NOT NULL,
    csrf         text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX sessions_by_person ON gateway.sessions (trust_id, staff_id);

-- Failed sign-ins per key (address and client), for rate limiting.
CREATE TABLE gateway.sign_in_failures (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL
);

-- Per-trust single sign-on providers.
CREATE TABLE gateway.sso_providers (
    trust_id      uuid NOT NULL,
    provider      text NOT NULL CHECK (provider IN ('microsoft', 'google')),
    issuer        text NOT NULL,
    client_id     text NOT NULL,
    client_secret text NOT NULL,
    -- Google: the Workspace domain accounts must belong to (the `hd` claim).
    hosted_domain text,
    PRIMARY KEY (trust_id, provider)
);

CREATE TABLE gateway.sso_flows (
    state         text PRIMARY KEY,
    trust_id      uuid NOT NULL,
    provider      text NOT NULL,
    pkce_verifier text NOT NULL,
    nonce         text NOT NULL,
    invitation    bytea,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Each person's secret calendar feed address (hash only); making a new one revokes the old.
CREATE TABLE gateway.calendar_feeds (
    token_hash bytea PRIMARY KEY,
    trust_id   uuid NOT NULL,
    staff_id   uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Working copies of forms being written (a draft review record), saved as people type so
-- nothing is lost; cleared when the form is submitted.
CREATE TABLE gateway.autosaves (
    trust_id uuid NOT NULL,
    staff_id uuid NOT NULL,
    key      text NOT NULL,
    fields   jsonb NOT NULL,
    saved_at timestamptz NOT NULL,
    PRIMARY KEY (trust_id, staff_id, key)
);
