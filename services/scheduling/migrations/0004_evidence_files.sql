-- Files attached to occurrences as evidence (waymark_runtime::evidence): which file is on
-- which occurrence and who attached it, kept from the events. The bytes live in the object
-- store; the sweep deletes those of removed files and erasure finds a person's files here.
CREATE TABLE scheduling.evidence_files (
    attachment_id uuid PRIMARY KEY,
    trust_id      uuid NOT NULL,
    record_kind   text NOT NULL,
    record_id     uuid NOT NULL,
    uploaded_by   uuid NOT NULL,
    file_name     text NOT NULL,
    media_type    text NOT NULL,
    size_bytes    bigint NOT NULL,
    sha256        text NOT NULL,
    attached_at   timestamptz NOT NULL,
    removed_at    timestamptz,
    deleted_at    timestamptz
);
CREATE INDEX evidence_files_record ON scheduling.evidence_files (trust_id, record_id);
CREATE INDEX evidence_files_uploaded_by ON scheduling.evidence_files (trust_id, uploaded_by);
CREATE INDEX evidence_files_to_delete ON scheduling.evidence_files (removed_at) WHERE deleted_at IS NULL AND removed_at IS NOT NULL;
