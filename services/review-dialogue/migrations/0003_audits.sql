-- Self-evaluation audits and the frameworks they are taken with.
CREATE TABLE review_dialogue.frameworks (
    trust_id     uuid NOT NULL,
    framework_id uuid NOT NULL,
    doc          jsonb NOT NULL,
    version      bigint NOT NULL,
    PRIMARY KEY (trust_id, framework_id)
);

CREATE TABLE review_dialogue.audits (
    trust_id     uuid NOT NULL,
    audit_id     uuid NOT NULL,
    school_id    uuid NOT NULL,
    framework_id uuid NOT NULL,
    status       text NOT NULL,
    started_on   date NOT NULL,
    finalised_on date,
    doc          jsonb NOT NULL,
    version      bigint NOT NULL,
    PRIMARY KEY (trust_id, audit_id)
);

CREATE INDEX audits_by_school ON review_dialogue.audits (trust_id, school_id, finalised_on);
CREATE INDEX audits_by_framework ON review_dialogue.audits (trust_id, framework_id, finalised_on);
