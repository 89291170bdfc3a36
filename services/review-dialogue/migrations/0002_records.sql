-- Each record's whole state as its events tell it (the decider's state as JSON), beside the
-- columns queries filter on.
ALTER TABLE review_dialogue.reviews
    ADD COLUMN doc jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN awaiting_ids uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN agreed_at timestamptz,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

CREATE INDEX reviews_by_reviewer ON review_dialogue.reviews (trust_id, reviewer_id);
CREATE INDEX reviews_by_reviewee ON review_dialogue.reviews (trust_id, reviewee_id);
CREATE INDEX reviews_awaiting ON review_dialogue.reviews USING gin (awaiting_ids);

CREATE TABLE review_dialogue.meetings (
    trust_id            uuid NOT NULL,
    meeting_id          uuid NOT NULL,
    school_id           uuid NOT NULL,
    academic_year       text NOT NULL,
    teacher_id          uuid NOT NULL,
    class_group         text NOT NULL,
    leader_ids          uuid[] NOT NULL,
    date                date NOT NULL,
    status              text NOT NULL,
    previous_meeting_id uuid,
    doc                 jsonb NOT NULL,
    version             bigint NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (trust_id, meeting_id)
);

CREATE INDEX meetings_by_teacher ON review_dialogue.meetings (trust_id, teacher_id, class_group, date);
CREATE INDEX meetings_by_school ON review_dialogue.meetings (trust_id, school_id, date);

CREATE TABLE review_dialogue.visits (
    trust_id    uuid NOT NULL,
    visit_id    uuid NOT NULL,
    school_id   uuid NOT NULL,
    kind        text NOT NULL,
    visitor_id  uuid NOT NULL,
    teacher_id  uuid NOT NULL,
    date        date NOT NULL,
    status      text NOT NULL,
    doc         jsonb NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (trust_id, visit_id)
);

CREATE INDEX visits_by_teacher ON review_dialogue.visits (trust_id, teacher_id, date);
CREATE INDEX visits_by_school ON review_dialogue.visits (trust_id, school_id, date);

-- A trust's look-fors, evidence sources and policy (the catalogue stream's state).
CREATE TABLE review_dialogue.catalogues (
    trust_id uuid PRIMARY KEY,
    doc      jsonb NOT NULL,
    version  bigint NOT NULL
);
