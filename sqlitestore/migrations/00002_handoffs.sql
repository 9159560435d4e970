-- +goose Up
-- Handoffs: one-time codes that live pages in cookie mode exchange for the
-- session cookie. Only the code's hash is stored, with the token sealed
-- under a key derived from the code.
CREATE TABLE handoffs (
    code_hash  BLOB    PRIMARY KEY CHECK (length(code_hash) = 32),
    sealed     BLOB    NOT NULL CHECK (length(sealed) BETWEEN 1 AND 256),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX handoffs_expires_at ON handoffs (expires_at);

-- +goose Down
DROP TABLE handoffs;
