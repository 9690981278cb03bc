DROP TABLE IF EXISTS attesto_pushed_authorization_requests;
DROP TABLE IF EXISTS attesto_client_id_metadata;
