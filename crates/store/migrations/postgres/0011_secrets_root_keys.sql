-- The root key of a secrets instance once it was ever customer-managed: `root_key` is
-- `kms:<key-service instance>:<key id>` (with its CRN), or `instance` when it went back to the
-- provider-managed instance key. No row: provider-managed. `key_version` is the key version the
-- data keys were last rewrapped to (after a rotation they are brought up to the new version);
-- `retired` lists (JSON) former root keys the instance stays registered on until no data key
-- uses them any more.
CREATE TABLE sm_instance_roots (
    instance_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES instances(id),
    root_key      TEXT COLLATE "C" NOT NULL,
    root_key_crn  TEXT COLLATE "C" NOT NULL,
    key_version   TEXT COLLATE "C" NOT NULL,
    retired       TEXT COLLATE "C" NOT NULL,
    updated_at    BIGINT           NOT NULL
);
