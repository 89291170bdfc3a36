-- What the retention job deleted (waymark_runtime::retention): one row per rule per run that
-- deleted anything.
CREATE TABLE review_dialogue.retention_runs (
    ran_at     timestamptz NOT NULL,
    rule       text NOT NULL,
    older_than timestamptz NOT NULL,
    deleted    bigint NOT NULL
);
CREATE INDEX retention_runs_by_time ON review_dialogue.retention_runs (ran_at DESC);
