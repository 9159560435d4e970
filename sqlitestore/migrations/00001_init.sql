-- +goose Up
-- Users: the canonical username is the identity and is unique; the display
-- name keeps the form typed at registration. Only bcrypt hashes are accepted,
-- so no row can exist without a valid-looking hash.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT    NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 256),
    display_name        TEXT    NOT NULL CHECK (length(display_name) BETWEEN 1 AND 1024),
    password_hash       TEXT    NOT NULL CHECK (length(password_hash) = 60 AND password_hash GLOB '$2[aby]$[0-3][0-9]$*'),
    enabled             INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
) STRICT;

-- Sessions: only the SHA-256 of each token is stored. Deleting a user
-- deletes its sessions.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    CHECK (expires_at > created_at)
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Revocations: a short log of sessions ended, written in the same
-- transaction that ends them, so that other processes on this database (a
-- running server, when the admin CLI disables a user) drop their cached
-- sessions at once. Rows are pruned after an hour.
CREATE TABLE revocations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL,
    token_hash BLOB CHECK (token_hash IS NULL OR length(token_hash) = 32),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_created_at ON revocations (created_at);

-- +goose Down
DROP TABLE revocations;
DROP TABLE sessions;
DROP TABLE users;
