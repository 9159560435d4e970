-- +goose Up
-- Failure counters shared by every instance (localauth.ThrottleStore).
CREATE TABLE throttle (
    key   TEXT        PRIMARY KEY CHECK (char_length(key) <= 512),
    count INTEGER     NOT NULL CHECK (count > 0),
    last  TIMESTAMPTZ NOT NULL
);
CREATE INDEX throttle_last ON throttle (last);

-- +goose Down
DROP TABLE throttle;
