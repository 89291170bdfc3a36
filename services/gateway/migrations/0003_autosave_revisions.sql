-- Each working copy has a revision: a form sends back the one it was built from, and a save
-- from a form that is behind is refused instead of overwriting the newer text.
ALTER TABLE gateway.autosaves ADD COLUMN revision bigint NOT NULL DEFAULT 1;
