-- The audit log (issue 8, ADR 0007): one row per accepted, refused, leased,
-- expired, re-queued, decided, delivered, abandoned and re-driven event,
-- inserted by the event's own transaction, unsealed. The sealer then gives
-- committed rows, in the order it finds them, their chain position `seq`
-- and chain hash `hash` = HMAC-SHA256(chain key, previous hash || record),
-- under the lock of the head row. Identifiers appear only as keyed hashes.
-- Independent of 0005 (the versions need not be contiguous).

CREATE TABLE audit_log (
    -- Assigned at insert, so not in commit order; the chain's order is `seq`.
    id                 bigserial   PRIMARY KEY,
    at                 timestamptz NOT NULL,
    -- ACCEPTED, REFUSED, LEASED, LEASE_EXPIRED, REQUEUED, DECIDED, DELIVERED,
    -- DELIVERY_ABANDONED, REDRIVEN.
    kind               text        NOT NULL,
    -- client:<certificate subject or fingerprint>, shep:<senderId>,
    -- gateway:<instance>, cli:<user>, unidentified (no client certificates).
    actor              text        NOT NULL,
    sender_id          text,
    application_number text,
    -- The state the event left the application (or its notice) in.
    outcome            text        NOT NULL,
    code               text,
    -- HMAC-SHA256 under the [audit] key of the message (sender, MessageId),
    -- the IIN and the identity document's number, when the event has them.
    message_hash       bytea,
    iin_hash           bytea,
    document_hash      bytea,
    detail             text        NOT NULL DEFAULT '',
    -- Set once by the sealer.
    seq                bigint,
    hash               bytea
);

-- Chain positions are unique. Partial, so that inserting an unsealed record
-- (on the request path) adds no entry here; sealing does.
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq) WHERE seq IS NOT NULL;

-- Serves the sealer's "unsealed records, oldest first"; sealed rows leave it.
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;

-- The last sealed position and its hash. Its row lock is the sealer's
-- mutex; its values show records removed from the end of the chain.
CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,
    hash bytea   NOT NULL CHECK (octet_length(hash) = 32)
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
