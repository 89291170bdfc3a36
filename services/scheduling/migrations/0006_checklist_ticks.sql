-- The ticked lines of activities' checklists: who ticked each and when, kept from the
-- events (ChecklistTicked). Unticking deletes the row.
CREATE TABLE scheduling.checklist_ticks (
    trust_id      uuid NOT NULL,
    occurrence_id uuid NOT NULL,
    checklist     text NOT NULL CHECK (checklist IN ('head_teacher', 'class_teacher')),
    line          text NOT NULL,
    ticked_by     uuid NOT NULL,
    ticked_at     timestamptz NOT NULL,
    PRIMARY KEY (trust_id, occurrence_id, checklist, line)
);
