-- Who asked to read which record, when, and what they got ('full', 'status' or 'refused'):
-- reviews, visits, meetings and self-evaluation audits, by id. Not events: an operational
-- record kept beside the read models, for people to see who read their records and for
-- trust administrators to search.
CREATE TABLE review_dialogue.access_log (
    entry_id    bigserial PRIMARY KEY,
    trust_id    uuid NOT NULL,
    at          timestamptz NOT NULL,
    reader_id   uuid NOT NULL,
    record_kind text NOT NULL,
    record_id   uuid NOT NULL,
    school_id   uuid NOT NULL,
    -- The people the record is about (its parties).
    subject_ids uuid[] NOT NULL,
    seen        text NOT NULL
);
CREATE INDEX access_log_by_time ON review_dialogue.access_log (trust_id, at DESC);
CREATE INDEX access_log_by_subject ON review_dialogue.access_log USING gin (subject_ids);
CREATE INDEX access_log_by_reader ON review_dialogue.access_log (trust_id, reader_id, at DESC);
