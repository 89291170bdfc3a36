-- The second chain of each trust: the history of its agreed records (review, meeting and
-- visit events), filed under the record. Anchors and verifications are kept per chain.
CREATE TABLE action_tracking.record_chain (
    trust_id  uuid NOT NULL,
    seq       bigint NOT NULL,
    event_id  uuid NOT NULL UNIQUE,
    record_id uuid NOT NULL,
    prev_hash bytea NOT NULL,
    hash      bytea NOT NULL,
    PRIMARY KEY (trust_id, seq)
);
CREATE INDEX record_chain_by_record ON action_tracking.record_chain (trust_id, record_id, seq);

ALTER TABLE action_tracking.audit_anchors ADD COLUMN chain text NOT NULL DEFAULT 'actions';
ALTER TABLE action_tracking.audit_anchors DROP CONSTRAINT audit_anchors_pkey;
ALTER TABLE action_tracking.audit_anchors ADD PRIMARY KEY (trust_id, chain);
ALTER TABLE action_tracking.audit_verifications ADD COLUMN chain text NOT NULL DEFAULT 'actions';
ALTER TABLE action_tracking.audit_verifications DROP CONSTRAINT audit_verifications_pkey;
ALTER TABLE action_tracking.audit_verifications ADD PRIMARY KEY (trust_id, chain);
