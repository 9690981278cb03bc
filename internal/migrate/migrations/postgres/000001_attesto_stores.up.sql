-- The gormstore schema, as AutoMigrate creates it: the tables and index
-- names of attesto_phoenix, so Elixir and Go nodes can share them.

CREATE TABLE IF NOT EXISTS attesto_client_id_metadata (
    url         text        NOT NULL,
    metadata    jsonb       NOT NULL,
    expires_at  timestamptz NOT NULL,
    inserted_at timestamptz NOT NULL,
    PRIMARY KEY (url)
);

CREATE INDEX IF NOT EXISTS attesto_client_id_metadata_expires_at_index
    ON attesto_client_id_metadata (expires_at);

CREATE TABLE IF NOT EXISTS attesto_pushed_authorization_requests (
    request_uri text        NOT NULL,
    params      jsonb       NOT NULL,
    expires_at  timestamptz NOT NULL,
    inserted_at timestamptz NOT NULL,
    PRIMARY KEY (request_uri)
);

CREATE INDEX IF NOT EXISTS attesto_pushed_authorization_requests_expires_at_index
    ON attesto_pushed_authorization_requests (expires_at);
