-- Audit checkpoints: from time to time a node writes the chain's head (seq, hash) with a MAC
-- made under a key derived from the master key. Someone who can write to the database but does
-- not hold the unseal material can rewrite the chain and recompute every hash, but cannot make a
-- checkpoint that matches the rewritten chain: verification compares the two.
CREATE TABLE audit_checkpoints (
    seq         INTEGER NOT NULL PRIMARY KEY,
    hash        BLOB    NOT NULL,
    mac         BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
