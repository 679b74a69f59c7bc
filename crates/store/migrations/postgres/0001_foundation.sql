-- PostgreSQL translation of migrations/sqlite (same tables, columns, constraints and indexes):
-- BIGINT for integers and Unix-millisecond times, BYTEA for blobs, BOOLEAN for flags, and TEXT
-- with the "C" collation: text compares and sorts byte by byte, as in SQLite, whatever locale the
-- database was created with (list orders and paging match the embedded store). Keep the two
-- directories in step: every schema change gets a migration in both.

-- The root of trust's record: how the master key is sealed. Holds only ciphertext and public
-- parameters (share check digests, HSM key label). One row.
CREATE TABLE seal_record (
    id          BIGINT           PRIMARY KEY CHECK (id = 1),
    record      BYTEA            NOT NULL,
    created_at  BIGINT           NOT NULL
);

CREATE TABLE accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT           NOT NULL
);

-- Users and service IDs.
CREATE TABLE principals (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('user', 'service_id')),
    name        TEXT COLLATE "C" NOT NULL,
    is_admin    BOOLEAN          NOT NULL DEFAULT FALSE,
    created_at  BIGINT           NOT NULL
);
CREATE INDEX principals_account ON principals(account_id);

-- API keys are stored as SHA-256 digests only.
CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals(id),
    name         TEXT COLLATE "C" NOT NULL,
    digest       BYTEA            NOT NULL UNIQUE,
    created_at   BIGINT           NOT NULL
);

-- Service instances (tenants). `wrapped_key` is the instance key, wrapped by the master key.
CREATE TABLE instances (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    service     TEXT COLLATE "C" NOT NULL CHECK (service IN ('kms', 'secrets-manager')),
    name        TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL,
    wrapped_key BYTEA            NOT NULL,
    created_at  BIGINT           NOT NULL
);
CREATE INDEX instances_account ON instances(account_id);
