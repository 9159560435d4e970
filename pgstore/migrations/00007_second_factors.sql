-- +goose Up
-- Second factors. A TOTP secret is stored sealed (AES-GCM under a key the
-- database never holds); it counts at login only once confirmed. last_step
-- is the time step of the last code accepted: no code is accepted twice.
CREATE TABLE totp (
    user_id    BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed     BYTEA       NOT NULL CHECK (octet_length(sealed) BETWEEN 1 AND 512),
    confirmed  BOOLEAN     NOT NULL DEFAULT false,
    last_step  BIGINT      NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);

-- Recovery codes, as HMACs under a key the database never holds; a used
-- code is deleted.
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA  NOT NULL CHECK (octet_length(code_hash) = 32),
    PRIMARY KEY (user_id, code_hash)
);

-- Passkeys (WebAuthn credentials). public_id names one to its user;
-- credential is the verifier's record (public key, flags); sign_count is
-- the authenticator's counter at its last use.
CREATE TABLE passkeys (
    id            BIGSERIAL   PRIMARY KEY,
    public_id     TEXT        NOT NULL UNIQUE CHECK (length(public_id) BETWEEN 16 AND 64),
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA       NOT NULL UNIQUE CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    name          TEXT        NOT NULL CHECK (octet_length(name) <= 64),
    credential    BYTEA       NOT NULL CHECK (octet_length(credential) <= 65536),
    sign_count    BIGINT      NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- Handoffs also keep the single-use records of second factors: a login
-- waiting for its second step, and a WebAuthn ceremony's state, which is
-- larger than a sealed token.
ALTER TABLE handoffs DROP CONSTRAINT handoffs_sealed_check;
ALTER TABLE handoffs ADD CONSTRAINT handoffs_sealed_check CHECK (octet_length(sealed) BETWEEN 1 AND 16384);

-- +goose Down
DELETE FROM handoffs WHERE octet_length(sealed) > 256;
ALTER TABLE handoffs DROP CONSTRAINT handoffs_sealed_check;
ALTER TABLE handoffs ADD CONSTRAINT handoffs_sealed_check CHECK (octet_length(sealed) BETWEEN 1 AND 256);
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp;
