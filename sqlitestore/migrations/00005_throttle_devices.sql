-- +goose Up
-- Attempt counters of accounts and devices (localauth.ThrottleStore), kept
-- with the accounts so that a restart forgets no lock.
CREATE TABLE throttle (
    key   TEXT    PRIMARY KEY CHECK (length(key) <= 512),
    count INTEGER NOT NULL CHECK (count > 0),
    last  INTEGER NOT NULL
) STRICT;
CREATE INDEX throttle_last ON throttle (last);

-- Devices: browsers that logged in to an account, by the SHA-256 of their
-- device token. Failed logins from them are counted apart from strangers',
-- so that an attacker who locks an account out does not lock out its owner.
CREATE TABLE devices (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL CHECK (length(token_hash) = 32),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, token_hash)
) STRICT;
CREATE INDEX devices_expires_at ON devices (expires_at);

-- +goose Down
DROP TABLE devices;
DROP TABLE throttle;
