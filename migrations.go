package gormstore

import (
	"embed"
	"io/fs"
)

//go:embed migrations/postgres/*.sql
var migrations embed.FS

// PostgresMigrations holds the schema AutoMigrate creates, as numbered SQL
// files named the golang-migrate way (000001_attesto_stores.up.sql and its
// .down.sql), for teams whose migration tool owns the schema: golang-migrate
// reads it through its iofs source, Atlas through its golang-migrate
// directory format, and goose users can copy the up file.
var PostgresMigrations fs.FS = mustSub(migrations, "migrations/postgres")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
