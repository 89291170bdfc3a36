-- Each school's improvement priorities (waymark_domain::review_dialogue::priority): the
-- decider's state, with what lists filter on. `doc->'linked'` holds the records tied to it.
CREATE TABLE review_dialogue.priorities (
    trust_id      uuid NOT NULL,
    priority_id   uuid NOT NULL,
    school_id     uuid NOT NULL,
    academic_year text NOT NULL,
    retired       boolean NOT NULL,
    doc           jsonb NOT NULL,
    version       bigint NOT NULL,
    PRIMARY KEY (trust_id, priority_id)
);
CREATE INDEX priorities_school ON review_dialogue.priorities (trust_id, school_id, academic_year);
CREATE INDEX priorities_linked ON review_dialogue.priorities USING gin ((doc -> 'linked') jsonb_path_ops);
