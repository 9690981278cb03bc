package gormstore

import (
	"io/fs"

	"github.com/attesto/gormstore/internal/migrate"
)

// PostgresMigrations holds the schema AutoMigrate creates, as numbered SQL
// files named the golang-migrate way (000001_attesto_stores.up.sql,
// 000002_dpop_replays.up.sql and their .down.sql), for teams whose
// migration tool owns the schema: golang-migrate reads it through its iofs
// source, Atlas through its golang-migrate directory format, and goose
// users can copy the up files in order.
var PostgresMigrations fs.FS = migrate.Postgres

// SQLiteMigrations is PostgresMigrations for SQLite.
var SQLiteMigrations fs.FS = migrate.SQLite

// MySQLMigrations is PostgresMigrations for MariaDB (10.6 or later) and
// MySQL (8.0 or later).
var MySQLMigrations fs.FS = migrate.MySQL
