-- Which review, meeting or visit holds a planned occurrence: kept from review dialogue's
-- events (a record scheduled with an occurrence id). One record per occurrence; the first
-- wins, and a cancelled record lets go of it.
CREATE TABLE scheduling.occurrence_records (
    trust_id      uuid NOT NULL,
    occurrence_id uuid NOT NULL,
    record_kind   text NOT NULL CHECK (record_kind IN ('review', 'meeting', 'visit')),
    record_id     uuid NOT NULL,
    PRIMARY KEY (trust_id, occurrence_id),
    UNIQUE (trust_id, record_id)
);
