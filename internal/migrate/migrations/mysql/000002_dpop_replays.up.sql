-- One-time identifiers (client assertion and DPoP proof jti values),
-- remembered until their token expires: attesto_phoenix's dpop_replays.

CREATE TABLE IF NOT EXISTS dpop_replays (
    jti        varbinary(2048) NOT NULL,
    expires_at datetime(6)     NOT NULL,
    PRIMARY KEY (jti),
    KEY dpop_replays_expires_at_index (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
