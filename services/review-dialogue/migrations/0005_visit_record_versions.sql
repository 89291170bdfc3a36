-- Visits keep how many times their record was written (the version agreement refers to):
-- counted from the store for visits recorded before it was kept.
UPDATE review_dialogue.visits v
SET doc = jsonb_set(doc, '{record_version}', to_jsonb((
    SELECT count(*) FROM event_store.events e
    WHERE e.stream_id = 'visit-' || v.visit_id::text
      AND e.event_type = 'VisitRecorded'
      AND e.stream_version <= v.version)))
WHERE NOT doc ? 'record_version';
