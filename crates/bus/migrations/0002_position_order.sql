-- Readers now follow the event log in position order (event_store 0002). A checkpoint kept in
-- the old (transaction id, position) order becomes the longest run of positions it had read
-- completely; events it had read beyond that run are read again. Migrate with the services
-- stopped after they have caught up, and nothing is read twice.
UPDATE bus.checkpoints c SET position = coalesce(
    (SELECT min(e.position) - 1 FROM event_store.events e
      WHERE (e.tx_id, e.position) > (c.tx_id, c.position)),
    (SELECT max(e.position) FROM event_store.events e),
    0);

ALTER TABLE bus.checkpoints DROP COLUMN tx_id;
