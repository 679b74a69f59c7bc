-- Key aliases: unique per instance, at most 5 per key (enforced by the service).
CREATE TABLE kp_aliases (
    instance_id    TEXT    NOT NULL REFERENCES instances(id),
    alias          TEXT    NOT NULL,
    key_id         TEXT    NOT NULL REFERENCES kp_keys(id),
    created_by     TEXT    NOT NULL,
    creation_date  BIGINT  NOT NULL,
    PRIMARY KEY (instance_id, alias)
);
CREATE INDEX kp_aliases_key ON kp_aliases(key_id);
