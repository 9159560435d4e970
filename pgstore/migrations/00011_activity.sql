-- +goose Up
-- Each user's security activity, which the user reads (and an operator with
-- `localauth activity`). Failed sign-ins since the last good one are one row
-- whose count grows (first_at to at), never a row per guess. No secret,
-- token or hash is ever stored here: the device is a label, the session its
-- public id.
CREATE TABLE activity (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type       TEXT        NOT NULL CHECK (length(type) <= 32),
    at         TIMESTAMPTZ NOT NULL,
    first_at   TIMESTAMPTZ NOT NULL,
    count      INTEGER     NOT NULL CHECK (count > 0),
    ip         TEXT        NOT NULL CHECK (length(ip) <= 64),
    device     TEXT        NOT NULL CHECK (length(device) <= 64),
    session_id TEXT        NOT NULL CHECK (length(session_id) <= 64),
    detail     TEXT        NOT NULL CHECK (length(detail) <= 256)
);
CREATE INDEX activity_user_id ON activity (user_id, id);
CREATE INDEX activity_at ON activity (at);

-- Whether the user wants a message at each sign-in from a new device.
ALTER TABLE users ADD COLUMN sign_in_alerts BOOLEAN NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE users DROP COLUMN sign_in_alerts;
DROP TABLE activity;
