-- Feeds (projections, in-process consumers) that cannot get past an event: the feed stops
-- there rather than skip it, and says so here until an attempt gets through.
CREATE TABLE bus.stuck_feeds (
    name            text PRIMARY KEY,
    event_id        uuid,
    position        bigint,
    error           text NOT NULL,
    attempts        integer NOT NULL,
    stuck_since     timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz NOT NULL DEFAULT now()
);
