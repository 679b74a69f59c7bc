-- The root of trust's record: how the master key is sealed. Holds only ciphertext and public
-- parameters (share check digests, HSM key label). One row.
CREATE TABLE seal_record (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    record      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE accounts (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Users and service IDs.
CREATE TABLE principals (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts(id),
    kind        TEXT    NOT NULL CHECK (kind IN ('user', 'service_id')),
    name        TEXT    NOT NULL,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX principals_account ON principals(account_id);

-- API keys are stored as SHA-256 digests only.
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    principal_id TEXT    NOT NULL REFERENCES principals(id),
    name         TEXT    NOT NULL,
    digest       BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
);

-- Service instances (tenants). `wrapped_key` is the instance key, wrapped by the master key.
CREATE TABLE instances (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts(id),
    service     TEXT    NOT NULL CHECK (service IN ('kms', 'secrets-manager')),
    name        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    wrapped_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX instances_account ON instances(account_id);
