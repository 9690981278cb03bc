-- The gormstore schema on MariaDB (10.6 or later) and MySQL (8.0 or
-- later), as AutoMigrate creates it. The keys are varbinary, so they
-- compare byte for byte: a utf8mb4 collation would match case variants
-- and ignore trailing spaces, and a 2048-character utf8mb4 key would not
-- fit InnoDB's 3072-byte index limit. The stores write every time as UTC
-- ('2006-01-02 15:04:05.000000'), and datetime keeps it as written, whatever
-- the session's time_zone. MariaDB's json is longtext checked by
-- json_valid, so documents read back exactly as stored.

CREATE TABLE IF NOT EXISTS attesto_client_id_metadata (
    url         varbinary(2048) NOT NULL,
    metadata    json            NOT NULL,
    expires_at  datetime(6)     NOT NULL,
    inserted_at datetime(6)     NOT NULL,
    PRIMARY KEY (url),
    KEY attesto_client_id_metadata_expires_at_index (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS attesto_pushed_authorization_requests (
    request_uri varbinary(2048) NOT NULL,
    params      json            NOT NULL,
    expires_at  datetime(6)     NOT NULL,
    inserted_at datetime(6)     NOT NULL,
    PRIMARY KEY (request_uri),
    KEY attesto_pushed_authorization_requests_expires_at_index (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
