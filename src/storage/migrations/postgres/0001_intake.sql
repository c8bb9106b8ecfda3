-- Intake: the answers given to intake messages (the idempotency record, with
-- the saved response), the applications they created and their history.

CREATE TABLE answers (
    sender_id          text        NOT NULL,
    message_id         text        NOT NULL,
    content_hash       bytea       NOT NULL CHECK (octet_length(content_hash) = 32),
    status             integer     NOT NULL CHECK (status BETWEEN 100 AND 599),
    -- The answer byte for byte as sent: a repeated message gets exactly this.
    body               bytea       NOT NULL,
    answered_at        timestamptz NOT NULL,
    application_number text,
    PRIMARY KEY (sender_id, message_id)
);

CREATE TABLE applications (
    number     text        PRIMARY KEY,
    sender_id  text        NOT NULL,
    message_id text        NOT NULL,
    -- The state of the last transition, kept here so queues need no join.
    state      text        NOT NULL,
    -- The validated application as the service serialized it: opaque here.
    payload    text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (sender_id, message_id),
    FOREIGN KEY (sender_id, message_id) REFERENCES answers (sender_id, message_id)
);

-- Serves "queued applications, oldest first" for leasing.
CREATE INDEX applications_state_updated_at ON applications (state, updated_at);

CREATE TABLE transitions (
    application_number text        NOT NULL REFERENCES applications (number),
    seq                integer     NOT NULL,
    state              text        NOT NULL,
    at                 timestamptz NOT NULL,
    due_at             timestamptz,
    PRIMARY KEY (application_number, seq)
);
