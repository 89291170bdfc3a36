-- The active relay's heartbeat. The relay that holds the advisory lock writes here through
-- the lock's own connection every few seconds; a standby that finds the heartbeat stale ends
-- that connection (the lock goes with it) and takes over, so a holder whose network path
-- died silently does not stop publishing for as long as the server's TCP keepalive takes.
CREATE TABLE bus.relay_leases (
    name         text PRIMARY KEY,
    pid          integer NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
