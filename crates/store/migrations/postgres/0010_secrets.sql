-- The secrets service (Secrets Manager compatible). Everything secret in these tables is
-- ciphertext: each version's data is sealed by its own data key (DEK), and the DEK is wrapped by
-- the instance's root key (`root_key` names which). Type-specific, non-secret metadata is a JSON
-- document owned by the service layer, so new secret types need no schema change.
CREATE TABLE sm_secret_groups (
    instance_id  TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    id           TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    description  TEXT COLLATE "C" NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT           NOT NULL,
    updated_at   BIGINT           NOT NULL,
    PRIMARY KEY (instance_id, id),
    UNIQUE (instance_id, name)
);

CREATE TABLE sm_secrets (
    instance_id         TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    id                  TEXT COLLATE "C" NOT NULL,
    secret_type         TEXT COLLATE "C" NOT NULL,
    name                TEXT COLLATE "C" NOT NULL,
    group_id            TEXT COLLATE "C" NOT NULL,
    state               BIGINT           NOT NULL,
    created_by          TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT           NOT NULL,
    updated_at          BIGINT           NOT NULL,
    expiration_date     BIGINT,
    next_rotation_date  BIGINT,
    retrieved_at        BIGINT,
    downloaded          BOOLEAN          NOT NULL,
    versions_total      BIGINT           NOT NULL,
    locks_total         BIGINT           NOT NULL,
    revision            BIGINT           NOT NULL,
    metadata            TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (instance_id, id),
    -- Names are unique per type across the instance, as in Secrets Manager.
    UNIQUE (instance_id, secret_type, name)
);
CREATE INDEX sm_secrets_group ON sm_secrets(instance_id, group_id);
CREATE INDEX sm_secrets_due ON sm_secrets(expiration_date);
CREATE INDEX sm_secrets_rotation ON sm_secrets(next_rotation_date);

CREATE TABLE sm_secret_versions (
    instance_id      TEXT COLLATE "C" NOT NULL,
    secret_id        TEXT COLLATE "C" NOT NULL,
    id               TEXT COLLATE "C" NOT NULL,
    serial           BIGINT           NOT NULL,
    created_by       TEXT COLLATE "C" NOT NULL,
    created_at       BIGINT           NOT NULL,
    expiration_date  BIGINT,
    downloaded       BOOLEAN          NOT NULL,
    auto_rotated     BOOLEAN          NOT NULL,
    metadata         TEXT COLLATE "C" NOT NULL,
    payload          BYTEA,
    wrapped_dek      BYTEA,
    root_key         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (instance_id, secret_id, id),
    UNIQUE (instance_id, secret_id, serial),
    FOREIGN KEY (instance_id, secret_id) REFERENCES sm_secrets(instance_id, id)
);
CREATE INDEX sm_secret_versions_root ON sm_secret_versions(instance_id, root_key);

CREATE TABLE sm_secret_locks (
    instance_id  TEXT COLLATE "C" NOT NULL,
    secret_id    TEXT COLLATE "C" NOT NULL,
    version_id   TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    description  TEXT COLLATE "C" NOT NULL,
    attributes   TEXT COLLATE "C" NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT           NOT NULL,
    updated_at   BIGINT           NOT NULL,
    PRIMARY KEY (instance_id, secret_id, version_id, name),
    FOREIGN KEY (instance_id, secret_id, version_id)
        REFERENCES sm_secret_versions(instance_id, secret_id, id)
);

CREATE TABLE sm_configurations (
    instance_id  TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    name         TEXT COLLATE "C" NOT NULL,
    config_type  TEXT COLLATE "C" NOT NULL,
    secret_type  TEXT COLLATE "C" NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT           NOT NULL,
    updated_at   BIGINT           NOT NULL,
    revision     BIGINT           NOT NULL,
    metadata     TEXT COLLATE "C" NOT NULL,
    sealed       BYTEA,
    wrapped_dek  BYTEA,
    root_key     TEXT COLLATE "C" NOT NULL,
    -- One name per instance whatever the type, so a name never needs the SDK's
    -- `X-Sm-Accept-Configuration-Type` to disambiguate.
    PRIMARY KEY (instance_id, name)
);

CREATE TABLE sm_notification_registrations (
    instance_id         TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES instances(id),
    instance_crn        TEXT COLLATE "C" NOT NULL,
    source_name         TEXT COLLATE "C" NOT NULL,
    source_description  TEXT COLLATE "C" NOT NULL,
    created_by          TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT           NOT NULL
);
