-- The queue in the order leasing takes it (issue 3): queued applications by
-- `updated_at`, then number. The lease statement reads the first rows of this
-- index and stops, instead of sorting every queued row that shares a second
-- with the oldest (intake stores instants in whole seconds, and a burst
-- accepts thousands in one). Only queued rows are in it, so it stays as
-- small as the queue.
CREATE INDEX applications_queue_order ON applications (updated_at, number) WHERE state = 'QUEUED';
