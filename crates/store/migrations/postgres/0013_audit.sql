-- The audit trail: one append-only, hash-chained sequence of records (see arca_store::audit).
-- `audit_head` is the single row every append locks (FOR UPDATE), reads and advances in its
-- transaction, so the nodes sharing this database extend one chain; `audit_account_heads` holds
-- each account's last record, which the next one of that account links to. Records are never
-- updated or deleted (the triggers refuse it), not even when their instance is reclaimed: the
-- trail is the account's record, and it holds no key material or secret data.
CREATE TABLE audit_events (
    seq                BIGINT           NOT NULL PRIMARY KEY,
    time               BIGINT           NOT NULL,
    account_id         TEXT COLLATE "C" NOT NULL,
    initiator          TEXT COLLATE "C" NOT NULL,
    action             TEXT COLLATE "C" NOT NULL,
    instance_id        TEXT COLLATE "C" NOT NULL,
    target             TEXT COLLATE "C" NOT NULL,
    outcome            TEXT COLLATE "C" NOT NULL,
    reason_code        BIGINT           NOT NULL,
    correlation_id     TEXT COLLATE "C" NOT NULL,
    source_address     TEXT COLLATE "C" NOT NULL,
    prev_hash          BYTEA            NOT NULL,
    account_prev_hash  BYTEA            NOT NULL,
    hash               BYTEA            NOT NULL
);
CREATE INDEX audit_events_account ON audit_events(account_id, seq);

CREATE TABLE audit_head (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq   BIGINT  NOT NULL,
    hash  BYTEA   NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_account_heads (
    account_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    seq         BIGINT           NOT NULL,
    hash        BYTEA            NOT NULL
);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
