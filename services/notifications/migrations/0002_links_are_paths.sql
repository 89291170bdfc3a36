-- Notices keep the path of the page they link to; e-mails and webhooks add the public
-- address when they are sent. Older notices stored the whole address.
UPDATE notifications.notices
SET link = regexp_replace(link, '^https?://[^/]+', '')
WHERE link ~ '^https?://[^/]+/';
