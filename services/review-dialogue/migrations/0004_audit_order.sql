-- Audits finalised on the same day keep the order they were finalised in: the trend and the
-- heat-map's "latest audit" go by the time of the audit's last event, not its id.
ALTER TABLE review_dialogue.audits ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
