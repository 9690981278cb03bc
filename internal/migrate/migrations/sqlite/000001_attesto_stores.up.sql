-- The gormstore schema on SQLite, as AutoMigrate creates it. SQLite keeps
-- the declared types only as names: the stores write every time as UTC
-- text of one fixed width ('2006-01-02 15:04:05.000000'), which SQLite
-- compares as the instants it names, and every JSON document as text
-- (GORM declares the document columns json on SQLite).

CREATE TABLE IF NOT EXISTS attesto_client_id_metadata (
    url         text        NOT NULL,
    metadata    json        NOT NULL,
    expires_at  timestamptz NOT NULL,
    inserted_at timestamptz NOT NULL,
    PRIMARY KEY (url)
);

CREATE INDEX IF NOT EXISTS attesto_client_id_metadata_expires_at_index
    ON attesto_client_id_metadata (expires_at);

CREATE TABLE IF NOT EXISTS attesto_pushed_authorization_requests (
    request_uri text        NOT NULL,
    params      json        NOT NULL,
    expires_at  timestamptz NOT NULL,
    inserted_at timestamptz NOT NULL,
    PRIMARY KEY (request_uri)
);

CREATE INDEX IF NOT EXISTS attesto_pushed_authorization_requests_expires_at_index
    ON attesto_pushed_authorization_requests (expires_at);
