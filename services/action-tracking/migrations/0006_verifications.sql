-- Each trust's last verification of its audit chain (scheduled or asked for), for the
-- administrators' page and to raise an alert once per new problem.
CREATE TABLE action_tracking.audit_verifications (
    trust_id         uuid PRIMARY KEY,
    verified_at      timestamptz NOT NULL,
    events_checked   bigint NOT NULL,
    anchored_through bigint NOT NULL,
    anchored_at      timestamptz,
    problem_seq      bigint,
    problem_event    uuid,
    problem_kind     text,
    problem_detail   text
);
