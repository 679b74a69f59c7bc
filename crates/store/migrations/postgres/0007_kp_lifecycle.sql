-- Key lifecycle: the first authorization of a dual-authorization delete (who set the key for
-- deletion and when; the authorization expires 7 days later), and indexes for the background
-- jobs (expiry, rotation by policy, scheduled purges) that scan every instance.
ALTER TABLE kp_keys ADD COLUMN deletion_auth_by TEXT COLLATE "C";
ALTER TABLE kp_keys ADD COLUMN deletion_auth_date BIGINT;
CREATE INDEX kp_keys_state ON kp_keys(state);
