-- MVD pull channel: leases on queued applications, the MVD's results, and
-- the IINs the gateway has seen formed (one holder per IIN). Times are
-- INTEGER microseconds since the Unix epoch, as in 0001.

-- The lease: who may post a result now, until when, and how often the
-- application has been handed out. `transition_count` is the number of rows
-- in `transitions`, so the next `seq` is known without reading the history.
ALTER TABLE applications ADD COLUMN lease_token TEXT;
ALTER TABLE applications ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE applications ADD COLUMN delivery_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN transition_count INTEGER NOT NULL DEFAULT 0;

UPDATE applications
SET transition_count = (SELECT count(*) FROM transitions t WHERE t.application_number = applications.number);

-- Serves "expired leases, oldest first" for reclaiming.
CREATE INDEX applications_lease_expiry ON applications (lease_expires_at) WHERE state = 'LEASED';
-- Serves the operators' list of dead letters.
CREATE INDEX applications_dead_lettered ON applications (updated_at) WHERE state = 'DEAD_LETTERED';

-- The decided result of an application, written with the state change.
CREATE TABLE mvd_results (
    application_number TEXT    PRIMARY KEY REFERENCES applications (number),
    outcome            TEXT    NOT NULL,
    code               TEXT,
    iin                TEXT,
    result_hash        BLOB    NOT NULL CHECK (length(result_hash) = 32),
    document           BLOB    NOT NULL,
    warnings           TEXT    NOT NULL DEFAULT '',
    decided_at         INTEGER NOT NULL
) STRICT;

-- Every IIN the gateway knows to be held, and by which application (NULL for
-- holders imported from the legacy registry).
CREATE TABLE iin_holders (
    iin                TEXT    PRIMARY KEY,
    application_number TEXT    REFERENCES applications (number),
    recorded_at        INTEGER NOT NULL
) STRICT;
