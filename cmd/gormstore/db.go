package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/models"
)

// tables are the stores' tables, in the order every report lists them:
// those AutoMigrate creates.
var tables = func() []string {
	var names []string
	for _, m := range models.All() {
		names = append(names, m.(interface{ TableName() string }).TableName())
	}
	return names
}()

// listOf is names as prose: "a", "a and b", "a, b and c".
func listOf(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// openMode says whether opening a SQLite file may create it.
type openMode int

const (
	// mustExist is for the commands that only read or delete: a missing
	// file means a wrong --dsn or no migrate yet, and creating an empty
	// one would hide that.
	mustExist openMode = iota
	// mayCreate is for migrate, and for the bench on its default file.
	mayCreate
)

// open connects to t and checks that the database answers, within the
// connect timeout. maxConns bounds the pool. The caller closes it.
func open(ctx context.Context, t target, mode openMode, maxConns int) (*gorm.DB, error) {
	cfg := &gorm.Config{
		// The command reports errors itself; GORM's logger would print
		// every failed statement to stdout.
		Logger: logger.Discard,
		// Pinged below, with a deadline.
		DisableAutomaticPing: true,
	}
	var dialector gorm.Dialector
	switch t.kind {
	case dialect.SQLite:
		if mode == mustExist {
			if _, err := os.Stat(t.path); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("database file %s does not exist; run `gormstore migrate` first, or check --dsn", t.path)
			}
		}
		// SQLite says "out of memory" when it cannot create the file.
		if dir := filepath.Dir(t.path); mode == mayCreate {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("cannot create database file %s: directory %s does not exist", t.path, dir)
			}
		}
		dialector = sqlite.Open(t.dsn)
	case dialect.Postgres:
		timeout := t.connectTimeout
		dialector = postgres.New(postgres.Config{DSN: t.dsn, OptionOpenDB: []stdlib.OptionOpenDB{
			stdlib.OptionBeforeConnect(func(_ context.Context, cfg *pgx.ConnConfig) error {
				if cfg.ConnectTimeout == 0 {
					cfg.ConnectTimeout = timeout
				}
				return nil
			}),
		}})
	case dialect.MySQL:
		dialector = mysql.New(mysql.Config{DSNConfig: t.mysql})
	default:
		return nil, fmt.Errorf("unsupported database %s", t)
	}
	db, err := gorm.Open(dialector, cfg)
	if err != nil {
		return nil, connectError(t, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, connectError(t, err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	if err := ping(ctx, db, t); err != nil {
		sqlDB.Close()
		return nil, connectError(t, err)
	}
	return db, nil
}

// ping checks that t answers. On PostgreSQL and MySQL the connect timeout
// bounds each attempt; the deadline bounds them all (several hosts, TLS
// then plain, the MySQL driver's retry of a bad connection). On SQLite it
// reads the schema, which is where a file that is not a database shows.
func ping(ctx context.Context, db *gorm.DB, t target) error {
	if t.kind != dialect.SQLite {
		ctx, cancel := context.WithTimeout(ctx, 2*t.connectTimeout)
		defer cancel()
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		return sqlDB.PingContext(ctx)
	}
	var n int64
	return db.WithContext(ctx).Raw("SELECT count(*) FROM sqlite_master").Row().Scan(&n)
}

// connectError says which database failed, and masks the DSN's password
// wherever the driver's error might quote it.
func connectError(t target, err error) error {
	msg := mask(err.Error(), t.secrets)
	if t.kind == dialect.SQLite {
		return fmt.Errorf("cannot open SQLite database %s: %s", t.display, msg)
	}
	return fmt.Errorf("cannot connect to %s: %s", t, msg)
}

// closeDB closes db's pool; its error is of no use to a command that ends.
func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// The statements that look for a table. On PostgreSQL a table counts
// where the stores' unqualified statements find it: through the
// search_path; on MySQL, in the DSN's database.
const (
	pgHasTableSQL     = "SELECT to_regclass(?) IS NOT NULL"
	mysqlHasTableSQL  = "SELECT count(*) > 0 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	sqliteHasTableSQL = "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?"
)

// missingTables returns the stores' tables that db lacks.
func missingTables(ctx context.Context, db *gorm.DB) ([]string, error) {
	db = db.WithContext(ctx)
	var missing []string
	for _, name := range tables {
		var found bool
		var row *sql.Row
		switch dialect.Of(db) {
		case dialect.Postgres:
			row = db.Raw(pgHasTableSQL, name).Row()
		case dialect.MySQL:
			row = db.Raw(mysqlHasTableSQL, name).Row()
		default:
			row = db.Raw(sqliteHasTableSQL, name).Row()
		}
		err := row.Scan(&found)
		if err != nil {
			return nil, fmt.Errorf("look for table %s: %w", name, err)
		}
		if !found {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

// requireTables fails, saying what to do, unless db has every table.
func requireTables(ctx context.Context, db *gorm.DB, t target) error {
	missing, err := missingTables(ctx, db)
	if err != nil {
		return err
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("table %s does not exist in %s; run `gormstore migrate` first", missing[0], t)
	}
	return fmt.Errorf("tables %s do not exist in %s; run `gormstore migrate` first", listOf(missing), t)
}
