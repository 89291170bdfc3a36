-- Read model of progress reviews, projected from the `review` streams.
CREATE TABLE review_dialogue.reviews (
    trust_id            uuid NOT NULL,
    review_id           uuid NOT NULL,
    school_id           uuid NOT NULL,
    academic_year       text NOT NULL,
    year_group          text NOT NULL,
    reviewer_id         uuid NOT NULL,
    reviewee_id         uuid NOT NULL,
    window_opens        date NOT NULL,
    window_closes       date NOT NULL,
    slt_line_manager_id uuid,
    status              text NOT NULL,
    version             bigint NOT NULL,
    PRIMARY KEY (trust_id, review_id)
);

CREATE INDEX reviews_by_school ON review_dialogue.reviews (trust_id, school_id, academic_year, year_group);
