-- KMIP management plane: adapters (bound to a root key) and the client certificates that
-- authenticate KMIP clients. Names are unique per instance (adapters) and per adapter (certs).
CREATE TABLE kp_kmip_adapters (
    id           TEXT    PRIMARY KEY,
    instance_id  TEXT    NOT NULL REFERENCES instances(id),
    name         TEXT    NOT NULL,
    description  TEXT,
    profile      TEXT    NOT NULL,
    crk_id       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL,
    UNIQUE (instance_id, name)
);

CREATE TABLE kp_kmip_certificates (
    id           TEXT    PRIMARY KEY,
    adapter_id   TEXT    NOT NULL REFERENCES kp_kmip_adapters(id),
    name         TEXT    NOT NULL,
    certificate  TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    UNIQUE (adapter_id, name)
);
