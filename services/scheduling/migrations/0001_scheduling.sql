-- Read models of the scheduling streams: each calendar, plan and schedule as the decider's
-- state, plus the occurrences and visit requests queries filter on.
CREATE TABLE scheduling.calendars (
    trust_id  uuid NOT NULL,
    school_id uuid NOT NULL,
    doc       jsonb NOT NULL,
    version   bigint NOT NULL,
    PRIMARY KEY (trust_id, school_id)
);

CREATE TABLE scheduling.plans (
    trust_id      uuid NOT NULL,
    plan_id       uuid NOT NULL,
    school_id     uuid,
    academic_year text,
    doc           jsonb NOT NULL,
    version       bigint NOT NULL,
    PRIMARY KEY (trust_id, plan_id)
);

CREATE TABLE scheduling.schedules (
    trust_id      uuid NOT NULL,
    schedule_id   uuid NOT NULL,
    school_id     uuid NOT NULL,
    academic_year text NOT NULL,
    doc           jsonb NOT NULL,
    version       bigint NOT NULL,
    -- The teams the year was last generated for, so a calendar change can re-plan it.
    teams         jsonb,
    PRIMARY KEY (trust_id, schedule_id)
);

CREATE TABLE scheduling.occurrences (
    trust_id        uuid NOT NULL,
    occurrence_id   uuid NOT NULL,
    schedule_id     uuid NOT NULL,
    school_id       uuid NOT NULL,
    kind            text NOT NULL,
    title           text NOT NULL,
    date            date NOT NULL,
    due             date NOT NULL,
    owner_id        uuid NOT NULL,
    participant_ids uuid[] NOT NULL,
    status          text NOT NULL,
    detail          jsonb NOT NULL,
    PRIMARY KEY (trust_id, occurrence_id)
);

CREATE INDEX occurrences_by_school ON scheduling.occurrences (trust_id, school_id, date);
CREATE INDEX occurrences_by_owner ON scheduling.occurrences (trust_id, owner_id, date);
CREATE INDEX occurrences_by_participant ON scheduling.occurrences USING gin (participant_ids);

CREATE TABLE scheduling.visit_requests (
    trust_id    uuid NOT NULL,
    request_id  uuid NOT NULL,
    schedule_id uuid NOT NULL,
    school_id   uuid NOT NULL,
    teacher_id  uuid NOT NULL,
    reason      text,
    booked_as   uuid,
    PRIMARY KEY (trust_id, request_id)
);

-- What reminders are about, learned from the other services' events: enough to plan
-- reminders again when a due date, an owner or the calendar changes.
CREATE TABLE scheduling.subjects (
    trust_id     uuid NOT NULL,
    subject_id   uuid NOT NULL,
    subject_kind text NOT NULL,
    school_id    uuid NOT NULL,
    title        text NOT NULL,
    owner_id     uuid NOT NULL,
    others       uuid[] NOT NULL DEFAULT '{}',
    due_date     date NOT NULL,
    open         boolean NOT NULL DEFAULT true,
    PRIMARY KEY (trust_id, subject_id)
);

-- Timers. One row per reminder to send. The worker claims due rows with
-- FOR UPDATE SKIP LOCKED and, in the same transaction, appends the ReminderDue event (to a
-- stream of its own) and marks the row fired: never lost, never twice, any number of workers.
CREATE TABLE scheduling.timers (
    timer_id     uuid PRIMARY KEY,
    trust_id     uuid NOT NULL,
    school_id    uuid NOT NULL,
    subject_kind text NOT NULL,
    subject_id   uuid NOT NULL,
    title        text NOT NULL,
    reminder     text NOT NULL,
    recipient_id uuid NOT NULL,
    due_date     date NOT NULL,
    local_date   date NOT NULL,
    fire_at      timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'cancelled')),
    fired_at     timestamptz,
    event_id     uuid
);

CREATE INDEX timers_due ON scheduling.timers (fire_at) WHERE state = 'pending';
CREATE INDEX timers_by_subject ON scheduling.timers (trust_id, subject_id);
CREATE INDEX timers_by_recipient ON scheduling.timers (trust_id, recipient_id, fire_at);
