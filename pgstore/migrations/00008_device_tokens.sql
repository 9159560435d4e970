-- +goose Up
-- Trusted devices with server-issued tokens. Devices recorded before this
-- version hold tokens their browsers chose, which anyone able to plant a
-- cookie could have chosen for them: they are dropped, and each browser is
-- trusted again after its next completed login. public_id names a device
-- to its user (to list and forget it) without its token; user_agent is
-- what labels it, as for sessions.
DELETE FROM devices;
ALTER TABLE devices ADD COLUMN public_id TEXT NOT NULL CHECK (char_length(public_id) BETWEEN 16 AND 64);
CREATE UNIQUE INDEX devices_public_id ON devices (public_id);
ALTER TABLE devices ADD COLUMN user_agent TEXT NOT NULL DEFAULT '' CHECK (octet_length(user_agent) <= 512);

-- +goose Down
DROP INDEX devices_public_id;
ALTER TABLE devices DROP COLUMN user_agent;
ALTER TABLE devices DROP COLUMN public_id;
