-- Service-to-service authorizations: a source service instance (a secrets-manager or kms
-- instance) may use one key (target_key_id) or all keys (target_key_id NULL) of a target
-- key-service instance, with a role. Source and target belong to the account.
--
-- target_key_id has no foreign key: an authorization outlives a purge of its key (key ids are
-- never reused, so it then opens nothing) rather than blocking the purge.
CREATE TABLE service_authorizations (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    account_id          TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    source_service      TEXT COLLATE "C" NOT NULL CHECK (source_service IN ('kms', 'secrets-manager')),
    source_instance_id  TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    target_instance_id  TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    target_key_id       TEXT COLLATE "C",
    role                TEXT COLLATE "C" NOT NULL,
    created_by          TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT           NOT NULL
);
CREATE INDEX service_authorizations_account ON service_authorizations(account_id);
-- One authorization per source, target, key and role. NULLs are distinct in a UNIQUE
-- constraint (SQLite and PostgreSQL alike), so the all-keys case has its own partial index.
CREATE UNIQUE INDEX service_authorizations_key_scope
    ON service_authorizations(source_instance_id, target_instance_id, target_key_id, role)
    WHERE target_key_id IS NOT NULL;
CREATE UNIQUE INDEX service_authorizations_all_keys
    ON service_authorizations(source_instance_id, target_instance_id, role)
    WHERE target_key_id IS NULL;
