-- Registry of IIN holders (issue 4): the persons imported from the legacy
-- registry or formed through the gateway, their documents, and the blocking
-- keys that find an applicant's candidates by an index lookup. Also the
-- duplicate candidates an accepted application was stored with, and how far
-- each import file has been committed.

CREATE TABLE registry_persons (
    iin         text        PRIMARY KEY CHECK (iin ~ '^[0-9]{12}$'),
    -- Each name part is a JSON array of its written forms (Latin, Cyrillic, ...).
    surname     text        NOT NULL,
    given_names text        NOT NULL,
    patronymic  text        NOT NULL,
    birth_date  date        NOT NULL,
    sex         text        CHECK (sex IN ('M', 'F')),
    citizenship text,
    -- JSON array of the normalised document numbers (also in registry_documents).
    documents   text        NOT NULL,
    -- Where the row came from: 'import:<file name>' or 'gateway'.
    source      text        NOT NULL,
    imported_at timestamptz NOT NULL,
    -- The name parts' spellings as `matching::PreparedIdentity::stored_spellings`
    -- makes them (every transliteration and diacritic variant), so that a
    -- duplicate check does not spell every candidate again. Empty: prepare
    -- from the names.
    spellings   text        NOT NULL DEFAULT ''
);

-- Document number -> holder, for the MVD result check ("IIN not already held
-- by someone else").
CREATE TABLE registry_documents (
    number_normalized text NOT NULL,
    -- No foreign key: rows are written only with their person, in the same
    -- transaction, and nothing is ever deleted; a per-row check would cost
    -- the bulk import an index probe per document and key.
    iin               text NOT NULL,
    PRIMARY KEY (number_normalized, iin)
);

-- Blocking keys as keyed 64-bit hashes of `matching::blocking_keys` (they are
-- built from document numbers and name skeletons, i.e. personal data; only
-- equality is ever asked of them). The primary key is the lookup index, and
-- it covers the iin, so a candidate lookup is an index-only scan.
CREATE TABLE registry_keys (
    key bigint NOT NULL,
    iin text   NOT NULL,
    PRIMARY KEY (key, iin)
);

-- The MATCH/POSSIBLE decisions an answer was screened to, written in the
-- transaction that records the answer (and its application, if accepted).
CREATE TABLE duplicate_candidates (
    sender_id          text             NOT NULL,
    message_id         text             NOT NULL,
    rank               integer          NOT NULL,
    -- The accepted application (NULL for a 409 IIN_ALREADY_REGISTERED).
    application_number text             REFERENCES applications (number),
    iin                text             NOT NULL,
    score              double precision NOT NULL,
    outcome            text             NOT NULL,
    -- The matching engine's decision as JSON: every field's level, weight and
    -- the spellings that met. Personal data, for the MVD operator.
    explanation        text             NOT NULL,
    PRIMARY KEY (sender_id, message_id, rank),
    FOREIGN KEY (sender_id, message_id) REFERENCES answers (sender_id, message_id)
);

CREATE INDEX duplicate_candidates_application ON duplicate_candidates (application_number);

-- Resumable imports: how far each file (identified by path, size and mtime)
-- has been committed, written in the transaction of the batch it ends.
CREATE TABLE registry_imports (
    file           text        PRIMARY KEY,
    committed_line bigint      NOT NULL,
    committed_byte bigint      NOT NULL,
    updated_at     timestamptz NOT NULL
);
