-- Full-text search over what an action says: its description, success criteria and impact.
CREATE INDEX actions_text ON action_tracking.actions
    USING gin (to_tsvector('english'::regconfig,
        description || ' ' || coalesce(success_criteria, '') || ' ' || coalesce(impact, '')));
