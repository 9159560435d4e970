-- +goose Up
-- Devices: browsers that logged in to an account, by the SHA-256 of their
-- device token. Failed logins from them are counted apart from strangers',
-- so that an attacker who locks an account out does not lock out its owner.
CREATE TABLE devices (
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA       NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, token_hash)
);
CREATE INDEX devices_expires_at ON devices (expires_at);

-- +goose Down
DROP TABLE devices;
