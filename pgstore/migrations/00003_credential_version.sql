-- +goose Up
-- The credential version advances with every password change. A login
-- carries the version it verified, and its session is inserted only while
-- that version is still current, so a login that raced a password change
-- cannot outlive it.
ALTER TABLE users ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 1 CHECK (credential_version > 0);

-- The id of the transaction that wrote each revocation. Identity values are
-- drawn at INSERT time but transactions commit in any order, so a reader
-- that only asked for ids above the highest it had seen could skip a row
-- committed late. Readers also re-read every row written by a transaction
-- that was still running at their previous read (xid at or above that
-- snapshot's xmin); see WatchRevocations.
ALTER TABLE revocations ADD COLUMN xid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX revocations_xid ON revocations (xid);

-- +goose Down
DROP INDEX revocations_xid;
ALTER TABLE revocations DROP COLUMN xid;
ALTER TABLE users DROP COLUMN credential_version;
