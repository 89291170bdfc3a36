-- Full-text search over what visits, meetings and audits say, as for reviews (0009).
CREATE INDEX visits_text ON review_dialogue.visits
    USING gin (jsonb_to_tsvector('english'::regconfig, doc, '["string"]'::jsonb));
CREATE INDEX meetings_text ON review_dialogue.meetings
    USING gin (jsonb_to_tsvector('english'::regconfig, doc, '["string"]'::jsonb));
CREATE INDEX audits_text ON review_dialogue.audits
    USING gin (jsonb_to_tsvector('english'::regconfig, doc, '["string"]'::jsonb));
