-- +goose Up
-- What a user's list of their own sessions shows, and the recent-login
-- check. public_id names a session to its user and to administrators: 128
-- random bits, unrelated to the token and to other sessions (the row id is
-- sequential and stays internal). Existing sessions get one here.
ALTER TABLE sessions ADD COLUMN public_id TEXT CHECK (public_id IS NULL OR length(public_id) BETWEEN 16 AND 64);
UPDATE sessions SET public_id = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX sessions_public_id ON sessions (public_id);
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 64);
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512);
ALTER TABLE sessions ADD COLUMN remember INTEGER NOT NULL DEFAULT 0 CHECK (remember IN (0, 1));
ALTER TABLE sessions ADD COLUMN reauth_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET reauth_at = created_at;

-- +goose Down
DROP INDEX sessions_public_id;
ALTER TABLE sessions DROP COLUMN reauth_at;
ALTER TABLE sessions DROP COLUMN remember;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN public_id;
