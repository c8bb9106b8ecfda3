-- Delivery of results (issue 5): the outbox of notices, written with the
-- result that causes them; every delivery attempt; the per-sender feed
-- counter; deadline breaches reported once. Independent of 0003.

-- One notice per decided application: its result document, delivered to
-- the sender's callback and readable from the feed. The body is the result
-- document in `mvd_results`, joined, not copied.
CREATE TABLE notices (
    id                 bigserial   PRIMARY KEY,
    -- Stable id sent as the `Notice-Id` header: receivers de-duplicate by it.
    notice_id          text        NOT NULL UNIQUE,
    application_number text        NOT NULL UNIQUE REFERENCES mvd_results (application_number),
    sender_id          text        NOT NULL,
    -- IinCertificate or ErrorNotice.
    kind               text        NOT NULL,
    -- The feed cursor: 1, 2, 3... per sender, taken under the row lock of
    -- `notice_feed`, so numbers become visible in order (ADR 0006).
    feed_seq           bigint      NOT NULL,
    created_at         timestamptz NOT NULL,
    -- PENDING, DELIVERING (claimed by a worker), DELIVERED, DEAD.
    state              text        NOT NULL DEFAULT 'PENDING',
    attempts           integer     NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL,
    claimed_by         text,
    claimed_until      timestamptz,
    last_status        integer,
    delivered_at       timestamptz,
    -- The retry budget (attempts, age) counts from here; an operator's
    -- re-drive moves it.
    budget_attempts    integer     NOT NULL DEFAULT 0,
    budget_from        timestamptz NOT NULL,
    UNIQUE (sender_id, feed_seq)
);

-- Serves "due notices, earliest first" for the delivery workers.
CREATE INDEX notices_due ON notices (next_attempt_at) WHERE state IN ('PENDING', 'DELIVERING');
-- Serves the operators' list of dead notices.
CREATE INDEX notices_dead ON notices (id) WHERE state = 'DEAD';

-- The last feed number handed out per sender. Its row lock, held from the
-- increment to the commit, orders the commits of one sender's notices.
CREATE TABLE notice_feed (
    sender_id text   PRIMARY KEY,
    last_seq  bigint NOT NULL
);

CREATE TABLE delivery_attempts (
    notice_id   bigint      NOT NULL REFERENCES notices (id),
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL,
    -- DELIVERED, RETRY, PERMANENT (refused for good), DEAD (retry budget spent).
    outcome     text        NOT NULL,
    http_status integer,
    -- What went wrong, in the gateway's words (timeout, connection refused, ...).
    detail      text        NOT NULL DEFAULT '',
    PRIMARY KEY (notice_id, attempt)
);

-- A deadline breach is counted and logged once: the step's row remembers it.
ALTER TABLE transitions ADD COLUMN breach_reported_at timestamptz;
