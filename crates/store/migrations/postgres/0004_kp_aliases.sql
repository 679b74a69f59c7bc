-- Key aliases: unique per instance, at most 5 per key (enforced by the service).
CREATE TABLE kp_aliases (
    instance_id    TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    alias          TEXT COLLATE "C" NOT NULL,
    key_id         TEXT COLLATE "C" NOT NULL REFERENCES kp_keys(id),
    created_by     TEXT COLLATE "C" NOT NULL,
    creation_date  BIGINT           NOT NULL,
    PRIMARY KEY (instance_id, alias)
);
CREATE INDEX kp_aliases_key ON kp_aliases(key_id);
