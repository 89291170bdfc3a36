-- Each school's webhook signing secret (Standard Webhooks: HMAC-SHA256). A webhook set
-- before secrets existed gets one now; an administrator sees it by setting the webhook again.
ALTER TABLE notifications.schools ADD COLUMN webhook_secret bytea;
UPDATE notifications.schools
   SET webhook_secret = uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
 WHERE webhook_url IS NOT NULL;
