-- Per-instance roles of principals (IAM service access roles).
CREATE TABLE role_grants (
    id            TEXT    PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES accounts(id),
    principal_id  TEXT    NOT NULL REFERENCES principals(id),
    instance_id   TEXT    NOT NULL REFERENCES instances(id),
    role          TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    UNIQUE (principal_id, instance_id, role)
);
CREATE INDEX role_grants_account ON role_grants(account_id);
