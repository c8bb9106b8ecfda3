-- The audit chain moves out of the audit records (ADR 0007, addendum
-- "Sealing by transaction horizon"): sealing no longer updates each record
-- (a second row version, two index entries and a dead tuple per record),
-- it appends (seq, id, hash) rows to `audit_chain`. Records stay exactly as
-- their event inserted them.
--
-- Which records are unsealed is now found by the inserting transaction's id
-- (`xact`): the sealer takes, in (xact, id) order after its cursor, only
-- records whose transaction is older than every transaction still running
-- (`pg_snapshot_xmin` of its statement's snapshot). Those are committed
-- (visible) or rolled back (never visible), so no record can appear later
-- behind the cursor.

CREATE TABLE audit_chain (
    seq  bigint PRIMARY KEY,
    id   bigint NOT NULL,
    hash bytea  NOT NULL
);

INSERT INTO audit_chain (seq, id, hash)
SELECT seq, id, hash FROM audit_log WHERE seq IS NOT NULL;

-- The inserting transaction. Records sealed before this migration get 0,
-- so the cursor below is past them; unsealed ones get this migration's id
-- and are sealed by the first pass.
ALTER TABLE audit_log ADD COLUMN xact xid8 NOT NULL DEFAULT pg_current_xact_id();
UPDATE audit_log SET xact = '0' WHERE seq IS NOT NULL;

DROP INDEX audit_log_seq;
DROP INDEX audit_log_unsealed;
ALTER TABLE audit_log DROP COLUMN seq, DROP COLUMN hash;

-- Serves the sealer's "after the cursor, below the horizon, in order".
CREATE INDEX audit_log_xact ON audit_log (xact, id);

-- The sealer's cursor: the (xact, id) of the last record sealed.
ALTER TABLE audit_head
    ADD COLUMN last_xact xid8   NOT NULL DEFAULT '0',
    ADD COLUMN last_id   bigint NOT NULL DEFAULT 0;
UPDATE audit_head SET last_id = coalesce((SELECT max(id) FROM audit_chain), 0);
