-- KMIP management plane: adapters (bound to a root key) and the client certificates that
-- authenticate KMIP clients. Names are unique per instance (adapters) and per adapter (certs).
CREATE TABLE kp_kmip_adapters (
    id           TEXT COLLATE "C" PRIMARY KEY,
    instance_id  TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    name         TEXT COLLATE "C" NOT NULL,
    description  TEXT COLLATE "C",
    profile      TEXT COLLATE "C" NOT NULL,
    crk_id       TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT           NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    updated_at   BIGINT           NOT NULL,
    updated_by   TEXT COLLATE "C" NOT NULL,
    UNIQUE (instance_id, name)
);

CREATE TABLE kp_kmip_certificates (
    id           TEXT COLLATE "C" PRIMARY KEY,
    adapter_id   TEXT COLLATE "C" NOT NULL REFERENCES kp_kmip_adapters(id),
    name         TEXT COLLATE "C" NOT NULL,
    certificate  TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT           NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    UNIQUE (adapter_id, name)
);
