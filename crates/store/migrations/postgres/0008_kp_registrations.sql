-- Registrations: which cloud resources (by CRN) a key protects, recorded by the services that
-- use the key. A key with registrations is not deleted unless forced, and never while one of
-- them prevents deletion.
CREATE TABLE kp_registrations (
    key_id                TEXT COLLATE "C" NOT NULL REFERENCES kp_keys(id),
    resource_crn          TEXT COLLATE "C" NOT NULL,
    instance_id           TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    prevent_key_deletion  BOOLEAN          NOT NULL,
    description           TEXT COLLATE "C",
    key_version_id        TEXT COLLATE "C" NOT NULL,
    created_by            TEXT COLLATE "C" NOT NULL,
    creation_date         BIGINT           NOT NULL,
    updated_by            TEXT COLLATE "C" NOT NULL,
    last_updated          BIGINT           NOT NULL,
    PRIMARY KEY (key_id, resource_crn)
);
CREATE INDEX kp_registrations_instance ON kp_registrations(instance_id);
