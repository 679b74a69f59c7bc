-- PostgreSQL translation of migrations/sqlite (same tables, columns, constraints and indexes):
-- BIGINT for integers and Unix-millisecond times, BYTEA for blobs, BOOLEAN for flags. Keep the two
-- directories in step: every schema change gets a migration in both.

-- The root of trust's record: how the master key is sealed. Holds only ciphertext and public
-- parameters (share check digests, HSM key label). One row.
CREATE TABLE seal_record (
    id          BIGINT  PRIMARY KEY CHECK (id = 1),
    record      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE accounts (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Users and service IDs.
CREATE TABLE principals (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts(id),
    kind        TEXT    NOT NULL CHECK (kind IN ('user', 'service_id')),
    name        TEXT    NOT NULL,
    is_admin    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX principals_account ON principals(account_id);

-- API keys are stored as SHA-256 digests only.
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    principal_id TEXT    NOT NULL REFERENCES principals(id),
    name         TEXT    NOT NULL,
    digest       BYTEA   NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL
);

-- Service instances (tenants). `wrapped_key` is the instance key, wrapped by the master key.
CREATE TABLE instances (
    id          TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts(id),
    service     TEXT    NOT NULL CHECK (service IN ('kms', 'secrets-manager')),
    name        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    wrapped_key BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX instances_account ON instances(account_id);
