-- Registry of IIN holders (issue 4); see the PostgreSQL migration of the same
-- name for the meaning of each table. Dates are TEXT YYYY-MM-DD, times INTEGER
-- microseconds since the Unix epoch (UTC).

CREATE TABLE registry_persons (
    iin         TEXT    PRIMARY KEY CHECK (length(iin) = 12),
    surname     TEXT    NOT NULL,
    given_names TEXT    NOT NULL,
    patronymic  TEXT    NOT NULL,
    birth_date  TEXT    NOT NULL,
    sex         TEXT    CHECK (sex IN ('M', 'F')),
    citizenship TEXT,
    documents   TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    spellings   TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE registry_documents (
    number_normalized TEXT NOT NULL,
    iin               TEXT NOT NULL,
    PRIMARY KEY (number_normalized, iin)
) STRICT, WITHOUT ROWID;

CREATE TABLE registry_keys (
    key INTEGER NOT NULL,
    iin TEXT    NOT NULL,
    PRIMARY KEY (key, iin)
) STRICT, WITHOUT ROWID;

CREATE TABLE duplicate_candidates (
    sender_id          TEXT    NOT NULL,
    message_id         TEXT    NOT NULL,
    rank               INTEGER NOT NULL,
    application_number TEXT    REFERENCES applications (number),
    iin                TEXT    NOT NULL,
    score              REAL    NOT NULL,
    outcome            TEXT    NOT NULL,
    explanation        TEXT    NOT NULL,
    PRIMARY KEY (sender_id, message_id, rank),
    FOREIGN KEY (sender_id, message_id) REFERENCES answers (sender_id, message_id)
) STRICT;

CREATE INDEX duplicate_candidates_application ON duplicate_candidates (application_number);

CREATE TABLE registry_imports (
    file           TEXT    PRIMARY KEY,
    committed_line INTEGER NOT NULL,
    committed_byte INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
