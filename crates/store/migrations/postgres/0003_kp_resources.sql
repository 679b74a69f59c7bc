-- Key service resources around keys: key rings, instance policies, the import token.
CREATE TABLE kp_key_rings (
    instance_id    TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    id             TEXT COLLATE "C" NOT NULL,
    created_by     TEXT COLLATE "C" NOT NULL,
    creation_date  BIGINT           NOT NULL,
    PRIMARY KEY (instance_id, id)
);

CREATE TABLE kp_instance_policies (
    instance_id    TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    policy_type    TEXT COLLATE "C" NOT NULL,
    enabled        BOOLEAN          NOT NULL,
    attributes     TEXT COLLATE "C",
    created_by     TEXT COLLATE "C" NOT NULL,
    creation_date  BIGINT           NOT NULL,
    updated_by     TEXT COLLATE "C" NOT NULL,
    last_updated   BIGINT           NOT NULL,
    PRIMARY KEY (instance_id, policy_type)
);

-- One import token per instance. The RSA private key is stored wrapped by the master key.
CREATE TABLE kp_import_tokens (
    instance_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES instances(id),
    id                    TEXT COLLATE "C" NOT NULL,
    wrapped_private_key   BYTEA            NOT NULL,
    public_key_pem        TEXT COLLATE "C" NOT NULL,
    wrapped_nonce         BYTEA            NOT NULL,
    creation_date         BIGINT           NOT NULL,
    expiration_date       BIGINT           NOT NULL,
    max_retrievals        BIGINT           NOT NULL,
    remaining_retrievals  BIGINT           NOT NULL,
    created_by            TEXT COLLATE "C" NOT NULL
);
