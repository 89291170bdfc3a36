-- Full-text search over what a review says: every string in its state (notes, dialogue,
-- the record, the response, corrections), in English.
CREATE INDEX reviews_text ON review_dialogue.reviews
    USING gin (jsonb_to_tsvector('english'::regconfig, doc, '["string"]'::jsonb));
