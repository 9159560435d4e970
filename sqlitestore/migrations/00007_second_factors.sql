-- +goose Up
-- Second factors. A TOTP secret is stored sealed (AES-GCM under a key the
-- database never holds); it counts at login only once confirmed. last_step
-- is the time step of the last code accepted: no code is accepted twice.
CREATE TABLE totp (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed     BLOB    NOT NULL CHECK (length(sealed) BETWEEN 1 AND 512),
    confirmed  INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;

-- Recovery codes, as HMACs under a key the database never holds; a used
-- code is deleted.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL CHECK (length(code_hash) = 32),
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- Passkeys (WebAuthn credentials). public_id names one to its user;
-- credential is the verifier's record (public key, flags); sign_count is
-- the authenticator's counter at its last use.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    public_id     TEXT    NOT NULL UNIQUE CHECK (length(public_id) BETWEEN 16 AND 64),
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB    NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name          TEXT    NOT NULL CHECK (length(CAST(name AS BLOB)) <= 64),
    credential    BLOB    NOT NULL CHECK (length(credential) <= 65536),
    sign_count    INTEGER NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- Handoffs also keep the single-use records of second factors: a login
-- waiting for its second step, and a WebAuthn ceremony's state, which is
-- larger than a sealed token. SQLite cannot change a CHECK in place.
CREATE TABLE handoffs_new (
    code_hash  BLOB    PRIMARY KEY CHECK (length(code_hash) = 32),
    sealed     BLOB    NOT NULL CHECK (length(sealed) BETWEEN 1 AND 16384),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO handoffs_new SELECT code_hash, sealed, expires_at FROM handoffs;
DROP TABLE handoffs;
ALTER TABLE handoffs_new RENAME TO handoffs;
CREATE INDEX handoffs_expires_at ON handoffs (expires_at);

-- +goose Down
DELETE FROM handoffs WHERE length(sealed) > 256;
CREATE TABLE handoffs_old (
    code_hash  BLOB    PRIMARY KEY CHECK (length(code_hash) = 32),
    sealed     BLOB    NOT NULL CHECK (length(sealed) BETWEEN 1 AND 256),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO handoffs_old SELECT code_hash, sealed, expires_at FROM handoffs;
DROP TABLE handoffs;
ALTER TABLE handoffs_old RENAME TO handoffs;
CREATE INDEX handoffs_expires_at ON handoffs (expires_at);
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp;
