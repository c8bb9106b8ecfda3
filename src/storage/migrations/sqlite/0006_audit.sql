-- The audit log (issue 8, ADR 0007): as in the PostgreSQL migration. Times
-- are INTEGER microseconds since the Unix epoch, as in 0001. One writer
-- connection inserts and seals, in turn. Independent of 0005.

CREATE TABLE audit_log (
    id                 INTEGER PRIMARY KEY,
    at                 INTEGER NOT NULL,
    kind               TEXT    NOT NULL,
    actor              TEXT    NOT NULL,
    sender_id          TEXT,
    application_number TEXT,
    outcome            TEXT    NOT NULL,
    code               TEXT,
    message_hash       BLOB,
    iin_hash           BLOB,
    document_hash      BLOB,
    detail             TEXT    NOT NULL DEFAULT '',
    seq                INTEGER,
    hash               BLOB
) STRICT;

CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq) WHERE seq IS NOT NULL;

CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
