-- What the retention job deleted (waymark_runtime::retention): one row per rule per run that
-- deleted anything.
CREATE TABLE notifications.retention_runs (
    ran_at     timestamptz NOT NULL,
    rule       text NOT NULL,
    older_than timestamptz NOT NULL,
    deleted    bigint NOT NULL
);
CREATE INDEX retention_runs_by_time ON notifications.retention_runs (ran_at DESC);
