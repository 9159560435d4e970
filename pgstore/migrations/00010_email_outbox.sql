-- +goose Up
-- An optional email address per account. email is the address in force;
-- email_verified says whether its owner proved it; email_key is its
-- normalized form (see localauth.EmailKey), set only once verified, so that
-- a verified address belongs to one account. pending_email is a new address
-- waiting for its verification while the verified one stays in force.
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '' CHECK (length(email) <= 320);
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN email_key TEXT CHECK (length(email_key) <= 320);
ALTER TABLE users ADD COLUMN pending_email TEXT NOT NULL DEFAULT '' CHECK (length(pending_email) <= 320);
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email_key);

-- Tokens sent by mail (password reset, address verification), by the
-- SHA-256 of the token. A token is void once used, once expired, and once
-- the account's credential version moves past the one it was made under.
-- Rows outlive their use for a day, to count the mails of the last hour.
CREATE TABLE mail_tokens (
    token_hash         BYTEA       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id            BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose            TEXT        NOT NULL CHECK (purpose IN ('reset', 'verify')),
    email              TEXT        NOT NULL CHECK (length(email) <= 320),
    email_key          TEXT        NOT NULL CHECK (length(email_key) <= 320),
    credential_version BIGINT      NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    used_at            TIMESTAMPTZ
);
CREATE INDEX mail_tokens_user ON mail_tokens (user_id, purpose, created_at);
CREATE INDEX mail_tokens_email_key ON mail_tokens (email_key, created_at);

-- Mails waiting for the SMTP server, written in the transaction that makes
-- what they carry. A row is deleted once sent or given up. Instances claim
-- rows with FOR UPDATE SKIP LOCKED, so each mail is sent by one of them.
CREATE TABLE mail_outbox (
    id            BIGSERIAL   PRIMARY KEY,
    kind          TEXT        NOT NULL CHECK (length(kind) <= 64),
    recipient     TEXT        NOT NULL CHECK (length(recipient) <= 320),
    subject       TEXT        NOT NULL CHECK (length(subject) <= 998),
    body          TEXT        NOT NULL CHECK (length(body) <= 65536),
    created_at    TIMESTAMPTZ NOT NULL,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    next_at       TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ
);
CREATE INDEX mail_outbox_next ON mail_outbox (next_at);

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE mail_tokens;
ALTER TABLE users DROP CONSTRAINT users_email_key;
ALTER TABLE users DROP COLUMN pending_email;
ALTER TABLE users DROP COLUMN email_key;
ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE users DROP COLUMN email;
