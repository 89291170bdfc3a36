-- How far each JetStream consumer has got in each stream: replicas take messages in parallel,
-- and an event waits until its stream's previous one is applied.
CREATE TABLE bus.consumer_streams (
    consumer  text NOT NULL,
    stream_id text NOT NULL,
    version   bigint NOT NULL,
    PRIMARY KEY (consumer, stream_id)
);

-- What consumers have applied so far.
INSERT INTO bus.consumer_streams (consumer, stream_id, version)
SELECT p.consumer, e.stream_id, max(e.stream_version)
FROM bus.processed p JOIN event_store.events e USING (event_id)
GROUP BY p.consumer, e.stream_id;
