-- The directory's version each contact was read at: a late, older upsert changes nothing.
ALTER TABLE notifications.contacts ADD COLUMN directory_version bigint NOT NULL DEFAULT 0;
