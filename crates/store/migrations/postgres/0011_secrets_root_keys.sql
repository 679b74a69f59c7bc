-- The root key of a secrets instance once it was ever customer-managed: `root_key` is
-- `kms:<key-service instance>:<key id>` (with its CRN), or `instance` when it went back to the
-- provider-managed instance key. No row: provider-managed. `key_version` is the key version the
-- data keys were last rewrapped to (after a rotation they are brought up to the new version);
-- `retired` lists (JSON) former root keys the instance stays registered on until no data key
-- uses them any more.
CREATE TABLE sm_instance_roots (
    instance_id   TEXT    NOT NULL PRIMARY KEY REFERENCES instances(id),
    root_key      TEXT    NOT NULL,
    root_key_crn  TEXT    NOT NULL,
    key_version   TEXT    NOT NULL,
    retired       TEXT    NOT NULL,
    updated_at    BIGINT  NOT NULL
);
