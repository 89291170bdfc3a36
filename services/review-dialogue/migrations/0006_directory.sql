-- The service's own copy of the directory (waymark_runtime::directory): a review's line
-- managers come from it, never from the request.
CREATE TABLE review_dialogue.directories (
    trust_id uuid PRIMARY KEY,
    doc      jsonb NOT NULL,
    version  bigint NOT NULL
);
