-- Key service: keys (root and standard) and their versions. Key material is stored only wrapped
-- by the master key, per version; a purged key's versions keep their ids but lose the material.
CREATE TABLE kp_keys (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    instance_id           TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    name                  TEXT COLLATE "C" NOT NULL,
    description           TEXT COLLATE "C",
    extractable           BOOLEAN          NOT NULL,
    imported              BOOLEAN          NOT NULL,
    state                 BIGINT           NOT NULL,
    state_before_delete   BIGINT,
    key_ring_id           TEXT COLLATE "C" NOT NULL,
    tags                  TEXT COLLATE "C" NOT NULL,
    expiration_date       BIGINT,
    created_by            TEXT COLLATE "C" NOT NULL,
    creation_date         BIGINT           NOT NULL,
    last_update_date      BIGINT           NOT NULL,
    last_rotate_date      BIGINT,
    deletion_date         BIGINT,
    deleted_by            TEXT COLLATE "C",
    rotation_enabled      BOOLEAN,
    rotation_interval     BIGINT,
    dual_auth_delete      BOOLEAN          NOT NULL,
    current_version_id    TEXT COLLATE "C" NOT NULL,
    revision              BIGINT           NOT NULL
);
CREATE INDEX kp_keys_instance ON kp_keys(instance_id, creation_date, id);

CREATE TABLE kp_key_versions (
    id                TEXT COLLATE "C" PRIMARY KEY,
    key_id            TEXT COLLATE "C" NOT NULL REFERENCES kp_keys(id),
    seq               BIGINT           NOT NULL,
    creation_date     BIGINT           NOT NULL,
    wrapped_material  BYTEA
);
CREATE UNIQUE INDEX kp_key_versions_key ON kp_key_versions(key_id, seq);

-- Keys that sign IAM tokens, wrapped by the master key.
CREATE TABLE signing_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    wrapped_key  BYTEA            NOT NULL,
    created_at   BIGINT           NOT NULL
);
