// Package models holds the GORM models of the three tables gormstore
// shares with attesto_phoenix: the Client ID Metadata Document cache, the
// Pushed Authorization Request store, and the replay store of one-time
// identifiers (dpop_replays).
//
// Table, column and index names are the ones attesto_phoenix's Ecto
// migrations create, so an Elixir node and a Go node can serve one cluster
// from one database. The models describe the schema gormstore's AutoMigrate
// creates on PostgreSQL (text keys, timestamptz); the stores also read and
// write the attesto_phoenix variant (varchar(255) keys, timestamp(0)
// without time zone holding UTC), and their own schemas on SQLite and
// MariaDB/MySQL (MySQLMigrations in the root package).
package models
