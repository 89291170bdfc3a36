-- Where each trust's chain was last anchored (the signed anchors themselves live in an
-- object store outside the database; verification reads them there, never this table).
CREATE TABLE action_tracking.audit_anchors (
    trust_id uuid PRIMARY KEY,
    head_seq bigint NOT NULL,
    head_hash bytea NOT NULL,
    object text NOT NULL,
    anchored_at timestamptz NOT NULL
);
