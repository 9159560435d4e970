-- +goose Up
-- The credential version advances with every password change. A login
-- carries the version it verified, and its session is inserted only while
-- that version is still current, so a login that raced a password change
-- cannot outlive it.
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 1 CHECK (credential_version > 0);

-- +goose Down
ALTER TABLE users DROP COLUMN credential_version;
