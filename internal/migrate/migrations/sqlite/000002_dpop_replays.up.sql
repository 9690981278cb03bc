-- One-time identifiers (client assertion and DPoP proof jti values),
-- remembered until their token expires: attesto_phoenix's dpop_replays.

CREATE TABLE IF NOT EXISTS dpop_replays (
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (jti)
);

CREATE INDEX IF NOT EXISTS dpop_replays_expires_at_index
    ON dpop_replays (expires_at);
