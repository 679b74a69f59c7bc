-- Lifecycle events: callback registrations of an instance (the HMAC secret wrapped by the master
-- key), an outbox of events, one delivery per event and registration (the delivery log, with a
-- lease so one sender at a time holds it), and marks of clock-driven notices already made.
CREATE TABLE event_registrations (
    id              TEXT    NOT NULL PRIMARY KEY,
    instance_id     TEXT    NOT NULL REFERENCES instances(id),
    url             TEXT    NOT NULL,
    event_types     TEXT    NOT NULL,
    wrapped_secret  BLOB    NOT NULL,
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX event_registrations_instance ON event_registrations(instance_id, created_at);

CREATE TABLE events (
    id           TEXT    NOT NULL PRIMARY KEY,
    instance_id  TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX events_instance ON events(instance_id);

CREATE TABLE event_deliveries (
    id               TEXT    NOT NULL PRIMARY KEY,
    event_id         TEXT    NOT NULL REFERENCES events(id),
    registration_id  TEXT    NOT NULL,
    instance_id      TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL
);
CREATE INDEX event_deliveries_due ON event_deliveries(state, next_attempt_at);
CREATE INDEX event_deliveries_instance ON event_deliveries(instance_id, created_at);
CREATE INDEX event_deliveries_registration ON event_deliveries(registration_id);

CREATE TABLE event_marks (
    instance_id  TEXT    NOT NULL,
    mark         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (instance_id, mark)
);
