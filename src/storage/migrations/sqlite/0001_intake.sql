-- Intake: the answers given to intake messages (the idempotency record, with
-- the saved response), the applications they created and their history.
--
-- Times are INTEGER microseconds since 1970-01-01T00:00:00Z (UTC): they sort
-- and compare as numbers and keep the same precision as PostgreSQL's
-- timestamptz, so both backends give back the same instants.

CREATE TABLE answers (
    sender_id          TEXT    NOT NULL,
    message_id         TEXT    NOT NULL,
    content_hash       BLOB    NOT NULL CHECK (length(content_hash) = 32),
    status             INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
    -- The answer byte for byte as sent: a repeated message gets exactly this.
    body               BLOB    NOT NULL,
    answered_at        INTEGER NOT NULL,
    application_number TEXT,
    PRIMARY KEY (sender_id, message_id)
) STRICT;

CREATE TABLE applications (
    number     TEXT    PRIMARY KEY,
    sender_id  TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    -- The state of the last transition, kept here so queues need no join.
    state      TEXT    NOT NULL,
    -- The validated application as the service serialized it: opaque here.
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (sender_id, message_id),
    FOREIGN KEY (sender_id, message_id) REFERENCES answers (sender_id, message_id)
) STRICT;

-- Serves "queued applications, oldest first" for leasing.
CREATE INDEX applications_state_updated_at ON applications (state, updated_at);

CREATE TABLE transitions (
    application_number TEXT    NOT NULL REFERENCES applications (number),
    seq                INTEGER NOT NULL,
    state              TEXT    NOT NULL,
    at                 INTEGER NOT NULL,
    due_at             INTEGER,
    PRIMARY KEY (application_number, seq)
) STRICT;
