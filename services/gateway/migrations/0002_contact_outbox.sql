-- Contacts for notifications, written with the directory state they come from and sent
-- afterwards, outside any transaction (see src/contacts.rs).
CREATE TABLE gateway.contact_outbox (
    trust_id  uuid   NOT NULL,
    staff_id  uuid   NOT NULL,
    -- The directory stream's version the contact was read at.
    version   bigint NOT NULL,
    contact   jsonb  NOT NULL,
    PRIMARY KEY (trust_id, staff_id)
);

-- Contacts synced before this could have lost their line manager: send everyone again.
INSERT INTO gateway.contact_outbox (trust_id, staff_id, version, contact)
SELECT p.trust_id, p.staff_id, d.version,
       jsonb_build_object(
           'display_name', p.display_name,
           'email', coalesce(p.email, ''),
           'line_manager', d.doc -> 'staff' -> (p.staff_id::text) -> 'line_manager',
           'school', (SELECT g -> 'school'
                      FROM jsonb_array_elements(d.doc -> 'staff' -> (p.staff_id::text) -> 'grants') AS g
                      WHERE jsonb_typeof(g -> 'school') = 'string' LIMIT 1))
FROM gateway.people p
JOIN gateway.directories d ON d.trust_id = p.trust_id
WHERE d.doc -> 'staff' ? (p.staff_id::text);
