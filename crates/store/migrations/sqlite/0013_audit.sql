-- The audit trail: one append-only, hash-chained sequence of records (see arca_store::audit).
-- `audit_head` is the single row every append reads and advances in its transaction;
-- `audit_account_heads` holds each account's last record, which the next one of that account
-- links to. Records are never updated or deleted (the triggers refuse it), not even when their
-- instance is reclaimed: the trail is the account's record, and it holds no key material or
-- secret data.
CREATE TABLE audit_events (
    seq                INTEGER NOT NULL PRIMARY KEY,
    time               INTEGER NOT NULL,
    account_id         TEXT    NOT NULL,
    initiator          TEXT    NOT NULL,
    action             TEXT    NOT NULL,
    instance_id        TEXT    NOT NULL,
    target             TEXT    NOT NULL,
    outcome            TEXT    NOT NULL,
    reason_code        INTEGER NOT NULL,
    correlation_id     TEXT    NOT NULL,
    source_address     TEXT    NOT NULL,
    prev_hash          BLOB    NOT NULL,
    account_prev_hash  BLOB    NOT NULL,
    hash               BLOB    NOT NULL
);
CREATE INDEX audit_events_account ON audit_events(account_id, seq);

CREATE TABLE audit_head (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  BLOB    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_account_heads (
    account_id  TEXT    NOT NULL PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        BLOB    NOT NULL
);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
