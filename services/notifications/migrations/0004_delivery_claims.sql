-- Each round of the delivery worker claims deliveries under a token of its own; it renews
-- and records only under that token, so a worker that lost a delivery to another (its lease
-- ran out) never records over the other's result.
ALTER TABLE notifications.deliveries ADD COLUMN claim uuid;
