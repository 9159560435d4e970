-- +goose Up
-- The same schema semantics as sqlitestore: canonical usernames unique,
-- bcrypt hashes only, sessions stored by the SHA-256 of their token and
-- deleted with their user.
CREATE TABLE users (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            TEXT        NOT NULL UNIQUE CHECK (char_length(username) BETWEEN 1 AND 256),
    display_name        TEXT        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 1024),
    password_hash       TEXT        NOT NULL CHECK (password_hash ~ '^\$2[aby]\$[0-3][0-9]\$.{53}$'),
    enabled             BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at          TIMESTAMPTZ NOT NULL,
    password_changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   BYTEA       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Revocations: written in the transaction that ends the sessions, announced
-- with NOTIFY, read by every instance to drop its cached sessions.
CREATE TABLE revocations (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    token_hash BYTEA CHECK (token_hash IS NULL OR octet_length(token_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX revocations_created_at ON revocations (created_at);

CREATE TABLE handoffs (
    code_hash  BYTEA       PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    sealed     BYTEA       NOT NULL CHECK (octet_length(sealed) BETWEEN 1 AND 256),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX handoffs_expires_at ON handoffs (expires_at);

-- +goose Down
DROP TABLE handoffs;
DROP TABLE revocations;
DROP TABLE sessions;
DROP TABLE users;
