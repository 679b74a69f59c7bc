-- Lifecycle events: callback registrations of an instance (the HMAC secret wrapped by the master
-- key), an outbox of events, one delivery per event and registration (the delivery log, with a
-- lease so one sender at a time holds it), and marks of clock-driven notices already made.
CREATE TABLE event_registrations (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    instance_id     TEXT COLLATE "C" NOT NULL REFERENCES instances(id),
    url             TEXT COLLATE "C" NOT NULL,
    event_types     TEXT COLLATE "C" NOT NULL,
    wrapped_secret  BYTEA   NOT NULL,
    created_by      TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX event_registrations_instance ON event_registrations(instance_id, created_at);

CREATE TABLE events (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    instance_id  TEXT COLLATE "C" NOT NULL,
    event_type   TEXT COLLATE "C" NOT NULL,
    subject      TEXT COLLATE "C" NOT NULL,
    body         TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX events_instance ON events(instance_id);

CREATE TABLE event_deliveries (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    event_id         TEXT COLLATE "C" NOT NULL REFERENCES events(id),
    registration_id  TEXT COLLATE "C" NOT NULL,
    instance_id      TEXT COLLATE "C" NOT NULL,
    event_type       TEXT COLLATE "C" NOT NULL,
    state            TEXT COLLATE "C" NOT NULL,
    attempts         BIGINT  NOT NULL,
    next_attempt_at  BIGINT  NOT NULL,
    lease_until      BIGINT,
    last_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX event_deliveries_due ON event_deliveries(state, next_attempt_at);
CREATE INDEX event_deliveries_instance ON event_deliveries(instance_id, created_at);
CREATE INDEX event_deliveries_registration ON event_deliveries(registration_id);

CREATE TABLE event_marks (
    instance_id  TEXT COLLATE "C" NOT NULL,
    mark         TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (instance_id, mark)
);
