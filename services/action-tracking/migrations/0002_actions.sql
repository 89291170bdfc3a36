-- Read models of agreed actions, projected from the `action` streams.
CREATE TABLE action_tracking.actions (
    trust_id             uuid NOT NULL,
    action_id            uuid NOT NULL,
    school_id            uuid NOT NULL,
    origin_kind          text NOT NULL,
    origin_id            uuid,
    description          text NOT NULL,
    owner_id             uuid NOT NULL,
    supporter_ids        uuid[] NOT NULL DEFAULT '{}',
    due_date             date NOT NULL,
    success_criteria     text,
    status               text NOT NULL,
    impact               text,
    carried_forward_from uuid,
    carried_forward_to   uuid,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    version              bigint NOT NULL,
    PRIMARY KEY (trust_id, action_id)
);

CREATE INDEX actions_by_owner ON action_tracking.actions (trust_id, owner_id, due_date);
CREATE INDEX actions_by_school ON action_tracking.actions (trust_id, school_id, due_date);
CREATE INDEX actions_by_origin ON action_tracking.actions (trust_id, origin_id);
CREATE INDEX actions_by_supporter ON action_tracking.actions USING gin (supporter_ids);

-- Progress notes and evidence of impact, in the order they were recorded.
CREATE TABLE action_tracking.action_notes (
    event_id    uuid PRIMARY KEY,
    trust_id    uuid NOT NULL,
    action_id   uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('progress', 'evidence')),
    body        text NOT NULL,
    author_id   uuid NOT NULL,
    recorded_at timestamptz NOT NULL
);

CREATE INDEX action_notes_by_action ON action_tracking.action_notes (trust_id, action_id, recorded_at);

-- The audit trail: every action event of a trust, in commit order, each row linked to the
-- one before by a SHA-256 hash over the stored event. Altering, removing or reordering a
-- stored event breaks the chain from that point (see `verify`).
CREATE TABLE action_tracking.audit_chain (
    trust_id    uuid NOT NULL,
    seq         bigint NOT NULL,
    event_id    uuid NOT NULL UNIQUE,
    action_id   uuid NOT NULL,
    school_id   uuid NOT NULL,
    actor_id    uuid NOT NULL,
    recorded_at timestamptz NOT NULL,
    event_type  text NOT NULL,
    summary     text NOT NULL,
    reason      text,
    details     jsonb NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    PRIMARY KEY (trust_id, seq)
);

CREATE INDEX audit_by_action ON action_tracking.audit_chain (trust_id, action_id, seq);
CREATE INDEX audit_by_school ON action_tracking.audit_chain (trust_id, school_id, recorded_at);
CREATE INDEX audit_by_actor ON action_tracking.audit_chain (trust_id, actor_id, recorded_at);
