-- The role the services run as (compose only; production creates it with its own password).
-- It owns nothing: `waymark migrate`, run as the owner, grants it rows to read and write.
CREATE ROLE waymark_app LOGIN PASSWORD 'waymark_app';
