-- The service's own copy of the directory (waymark_runtime::directory): who may have an
-- invitation sent to whom is decided with it, never taken from the request.
CREATE TABLE notifications.directories (
    trust_id uuid PRIMARY KEY,
    doc      jsonb NOT NULL,
    version  bigint NOT NULL
);
