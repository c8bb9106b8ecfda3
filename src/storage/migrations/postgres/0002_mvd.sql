-- MVD pull channel: leases on queued applications, the MVD's results, and
-- the IINs the gateway has seen formed (one holder per IIN).

-- The lease: who may post a result now, until when, and how often the
-- application has been handed out. `transition_count` is the number of rows
-- in `transitions`, kept on the row that is locked for every change so the
-- next `seq` is known without reading the history.
ALTER TABLE applications
    ADD COLUMN lease_token      text,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN delivery_count   integer NOT NULL DEFAULT 0,
    ADD COLUMN transition_count integer NOT NULL DEFAULT 0;

UPDATE applications a
SET transition_count = (SELECT count(*) FROM transitions t WHERE t.application_number = a.number);

-- Serves "expired leases, oldest first" for reclaiming.
CREATE INDEX applications_lease_expiry ON applications (lease_expires_at) WHERE state = 'LEASED';
-- Serves the operators' list of dead letters.
CREATE INDEX applications_dead_lettered ON applications (updated_at) WHERE state = 'DEAD_LETTERED';

-- The decided result of an application, written with the state change.
CREATE TABLE mvd_results (
    application_number text        PRIMARY KEY REFERENCES applications (number),
    -- IIN_FORMED or REJECTED: the state the result put the application in.
    outcome            text        NOT NULL,
    -- The notice code of a rejection (IDENTITY_MISMATCH, ...); NULL when formed.
    code               text,
    iin                text,
    -- SHA-256 of the MVD's result as posted, normalised: a repeat with the
    -- same hash is the same result.
    result_hash        bytea       NOT NULL CHECK (octet_length(result_hash) = 32),
    -- The result document (IinCertificate or ErrorNotice) as shown to the sender.
    document           bytea       NOT NULL,
    -- Ways the IIN's digits disagree with birth date or sex (comma-separated).
    warnings           text        NOT NULL DEFAULT '',
    decided_at         timestamptz NOT NULL
);

-- Every IIN the gateway knows to be held, and by which application (NULL for
-- holders imported from the legacy registry). The primary key is what makes
-- IIN_HELD_BY_ANOTHER safe across instances.
CREATE TABLE iin_holders (
    iin                text        PRIMARY KEY,
    application_number text        REFERENCES applications (number),
    recorded_at        timestamptz NOT NULL
);
