-- An e-mail address is unique within a trust, not across the installation: someone working
-- for two trusts has an account in each, and no trust learns which addresses another uses.
DROP INDEX gateway.people_email;
CREATE UNIQUE INDEX people_email ON gateway.people (trust_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX people_by_email ON gateway.people (lower(email)) WHERE email IS NOT NULL;
