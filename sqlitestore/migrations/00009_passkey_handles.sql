-- +goose Up
-- The WebAuthn user handle an authenticator keeps with each passkey, and
-- returns with every assertion. Passkeys made before this version hold the
-- user's id, 8 bytes big-endian: they keep it, so they keep working.
ALTER TABLE passkeys ADD COLUMN user_handle BLOB NOT NULL DEFAULT x'' CHECK (length(user_handle) <= 64);
UPDATE passkeys SET user_handle = unhex(printf('%016x', user_id));

-- A passkey whose signature counter failed to grow (a possible clone) is
-- disabled from that moment until its owner confirms it or removes it:
-- suspended_at is that moment in ms, 0 for a passkey in use.
ALTER TABLE passkeys ADD COLUMN suspended_at INTEGER NOT NULL DEFAULT 0;

-- Each user's WebAuthn user handle for new passkeys: 32 random bytes, made
-- at the user's first passkey, naming no one and counting nothing.
CREATE TABLE passkey_handles (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle  BLOB    NOT NULL UNIQUE CHECK (length(handle) BETWEEN 32 AND 64)
) STRICT;

-- +goose Down
DROP TABLE passkey_handles;
ALTER TABLE passkeys DROP COLUMN suspended_at;
ALTER TABLE passkeys DROP COLUMN user_handle;
