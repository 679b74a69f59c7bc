-- Audit checkpoints (see migrations/sqlite/0017_audit_checkpoints.sql).
CREATE TABLE audit_checkpoints (
    seq         BIGINT  NOT NULL PRIMARY KEY,
    hash        BYTEA   NOT NULL,
    mac         BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);
