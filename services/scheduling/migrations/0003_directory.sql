-- The service's own copy of the directory (waymark_runtime::directory): who may change a
-- school's calendar or plan, hold an occurrence or book a visit is decided with it.
CREATE TABLE scheduling.directories (
    trust_id uuid PRIMARY KEY,
    doc      jsonb NOT NULL,
    version  bigint NOT NULL
);
