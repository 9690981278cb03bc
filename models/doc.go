// Package models holds the GORM models of the two tables gormstore shares
// with attesto_phoenix: the Client ID Metadata Document cache and the Pushed
// Authorization Request store.
//
// Table, column and index names are the ones attesto_phoenix's Ecto
// migration creates, so an Elixir node and a Go node can serve one cluster
// from one database. The models describe the schema gormstore's AutoMigrate
// creates (text keys, timestamptz); the stores also read and write the
// attesto_phoenix variant (varchar(255) keys, timestamp(0) without time
// zone holding UTC).
package models
