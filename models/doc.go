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
//
// # Reading the tables
//
// An admin page or a report can query the tables through the models on
// PostgreSQL, SQLite and MariaDB/MySQL alike:
//
//	var live []models.PushedAuthorizationRequest
//	err := db.Where("expires_at > ?", models.NewTime(time.Now())).Find(&live).Error
//
// The time fields are Time, which reads what each driver returns: a
// time.Time from PostgreSQL, the stores' UTC text from SQLite (whose
// driver does not turn a timestamptz column into a time.Time), and either
// from MariaDB/MySQL, by the DSN's parseTime. Every time read is in UTC.
//
// With parseTime=true, the MariaDB/MySQL driver reads the UTC a datetime
// holds as a wall clock in the DSN's loc, and a Scan cannot tell that time
// from a PostgreSQL one. Open the pool that reads through the models with
// loc=UTC (the driver's default) or without parseTime: with loc=Local, as
// GORM's documentation writes the DSN, the times read are right only where
// the process's zone is UTC. The stores themselves never read a time back.
//
// # Comparing with a time
//
// Bind a time compared with expires_at or inserted_at as a Time
// (NewTime(t)): it binds as the stores bind a time, so the comparison is
// the instants' on every database, whatever t's zone. A plain time.Time
// is bound by the driver, in its own way:
//   - PostgreSQL, timestamptz: the instant; exact.
//   - PostgreSQL, attesto_phoenix's timestamp columns: pgx sends the wall
//     clock, so only a time in UTC compares right.
//   - MariaDB/MySQL: the driver converts it into the DSN's loc, so it
//     compares right only when loc is UTC.
//   - SQLite: the driver's text (2006-01-02 15:04:05.999999999-07:00),
//     which SQLite compares with the stored text byte by byte. A time in
//     another zone than UTC is off by its offset; a UTC one compares right,
//     except with a stored time equal to it to the microsecond, which
//     compares as later or earlier by the trailing zeros of the fraction.
//
// # Writing
//
// A row created or updated through a model (Create, Save, or Updates with
// a Time) stores its times as the stores do, so the stores and the
// sweeper treat it exactly as one of their own. The stores remain the way
// to write: they validate the row through package changesets first.
package models
