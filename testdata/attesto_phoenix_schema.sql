-- The tables as attesto_phoenix's Ecto migration creates them on
-- PostgreSQL (Ecto's :string is varchar(255), :map is jsonb, :utc_datetime
-- is timestamp(0) without time zone holding UTC). The stores must read and
-- write these as well as the tables AutoMigrate creates.
CREATE TABLE attesto_client_id_metadata (
    url varchar(255) NOT NULL,
    metadata jsonb NOT NULL,
    expires_at timestamp(0) without time zone NOT NULL,
    inserted_at timestamp(0) without time zone NOT NULL,
    PRIMARY KEY (url)
);
CREATE INDEX attesto_client_id_metadata_expires_at_index
    ON attesto_client_id_metadata (expires_at);

CREATE TABLE attesto_pushed_authorization_requests (
    request_uri varchar(255) NOT NULL,
    params jsonb NOT NULL,
    expires_at timestamp(0) without time zone NOT NULL,
    inserted_at timestamp(0) without time zone NOT NULL,
    PRIMARY KEY (request_uri)
);
CREATE INDEX attesto_pushed_authorization_requests_expires_at_index
    ON attesto_pushed_authorization_requests (expires_at);

-- EctoReplayCheck's table: one row per presented jti until it expires.
CREATE TABLE dpop_replays (
    jti varchar(255) NOT NULL,
    expires_at timestamp(0) without time zone NOT NULL,
    PRIMARY KEY (jti)
);
CREATE INDEX dpop_replays_expires_at_index
    ON dpop_replays (expires_at);
