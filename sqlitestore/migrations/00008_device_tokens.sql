-- +goose Up
-- Trusted devices with server-issued tokens. Devices recorded before this
-- version hold tokens their browsers chose, which anyone able to plant a
-- cookie could have chosen for them: they are dropped, and each browser is
-- trusted again after its next completed login. public_id names a device
-- to its user (to list and forget it) without its token; user_agent is
-- what labels it, as for sessions.
DROP TABLE devices;
CREATE TABLE devices (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL CHECK (length(token_hash) = 32),
    public_id    TEXT    NOT NULL UNIQUE CHECK (length(public_id) BETWEEN 16 AND 64),
    user_agent   TEXT    NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, token_hash)
) STRICT;
CREATE INDEX devices_expires_at ON devices (expires_at);

-- +goose Down
DROP TABLE devices;
CREATE TABLE devices (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL CHECK (length(token_hash) = 32),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, token_hash)
) STRICT;
CREATE INDEX devices_expires_at ON devices (expires_at);
