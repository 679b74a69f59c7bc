-- Per-instance roles of principals (IAM service access roles).
CREATE TABLE role_grants (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id),
    principal_id  TEXT COLLATE "C" NOT NULL REFERENCES principals(id),
    instance_id   TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    role          TEXT COLLATE "C" NOT NULL,
    created_by    TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT           NOT NULL,
    UNIQUE (principal_id, instance_id, role)
);
CREATE INDEX role_grants_account ON role_grants(account_id);
