-- Delivery of results (issue 5): the outbox of notices, written with the
-- result that causes them; every delivery attempt; the per-sender feed
-- counter; deadline breaches reported once. Times are INTEGER microseconds
-- since the Unix epoch, as in 0001. Independent of 0003.

CREATE TABLE notices (
    id                 INTEGER PRIMARY KEY,
    notice_id          TEXT    NOT NULL UNIQUE,
    application_number TEXT    NOT NULL UNIQUE REFERENCES mvd_results (application_number),
    sender_id          TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    feed_seq           INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    state              TEXT    NOT NULL DEFAULT 'PENDING',
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL,
    claimed_by         TEXT,
    claimed_until      INTEGER,
    last_status        INTEGER,
    delivered_at       INTEGER,
    budget_attempts    INTEGER NOT NULL DEFAULT 0,
    budget_from        INTEGER NOT NULL,
    UNIQUE (sender_id, feed_seq)
) STRICT;

CREATE INDEX notices_due ON notices (next_attempt_at) WHERE state IN ('PENDING', 'DELIVERING');
CREATE INDEX notices_dead ON notices (id) WHERE state = 'DEAD';

CREATE TABLE notice_feed (
    sender_id TEXT    PRIMARY KEY,
    last_seq  INTEGER NOT NULL
) STRICT;

CREATE TABLE delivery_attempts (
    notice_id   INTEGER NOT NULL REFERENCES notices (id),
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    http_status INTEGER,
    detail      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (notice_id, attempt)
) STRICT;

ALTER TABLE transitions ADD COLUMN breach_reported_at INTEGER;
