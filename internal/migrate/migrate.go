// Package migrate creates the stores' schema: AutoMigrate's work, and the
// same schema as SQL files. The root package's AutoMigrate and migration
// files are this package's, and cmd/gormstore runs it without importing
// the root package.
package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/attesto/gormstore/internal/dialect"
	"github.com/attesto/gormstore/models"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql migrations/mysql/*.sql
var files embed.FS

// Postgres, SQLite and MySQL hold the schema Run creates on each database,
// as golang-migrate files: 000001_attesto_stores and 000002_dpop_replays,
// each an .up.sql and a .down.sql.
var (
	Postgres fs.FS = mustSub(files, "migrations/postgres")
	SQLite   fs.FS = mustSub(files, "migrations/sqlite")
	MySQL    fs.FS = mustSub(files, "migrations/mysql")
)

// For returns the migration files of the database kind k, or nil for a
// database the stores do not run on.
func For(k dialect.Kind) fs.FS {
	switch k {
	case dialect.Postgres:
		return Postgres
	case dialect.SQLite:
		return SQLite
	case dialect.MySQL:
		return MySQL
	}
	return nil
}

// UpFile is the name of the first up migration in each of them; Up reads
// them all.
const UpFile = "000001_attesto_stores.up.sql"

// Up returns the up migrations of fsys, one of the sets above, in order,
// as one SQL text.
func Up(fsys fs.FS) ([]byte, error) {
	names, err := fs.Glob(fsys, "*.up.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var all []byte
	for i, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			all = append(all, '\n')
		}
		all = append(all, b...)
	}
	return all, nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// migrateLockKey is the PostgreSQL advisory lock that serialises
// AutoMigrate across nodes; any fixed value works as long as every node
// agrees on it. These are the first eight bytes of SHA-256("gormstore
// AutoMigrate").
const migrateLockKey int64 = 0x401249bc6fbae74c

// Run is gormstore.AutoMigrate, whose documentation says what it does;
// its errors are not yet prefixed with the operation's name.
func Run(ctx context.Context, db *gorm.DB) error {
	if db == nil {
		return dialect.ErrNoDB
	}
	switch dialect.Of(db) {
	case dialect.SQLite:
		return migrateSQLite(ctx, db)
	case dialect.MySQL:
		return migrateMySQL(ctx, db)
	case dialect.Postgres:
	default:
		name := "without a dialector"
		if db.Dialector != nil {
			name = db.Dialector.Name()
		}
		return fmt.Errorf("unsupported database %q: the stores run on PostgreSQL, SQLite and MariaDB/MySQL", name)
	}
	return db.WithContext(ctx).Session(&gorm.Session{NewDB: true}).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		return createAll(tx)
		// Read committed, whatever the server's default: a node that waited
		// for the lock must see the tables the holder created, and a
		// snapshot taken at the lock statement (repeatable read) would not.
		// Inside a caller's transaction GORM uses a savepoint, and the
		// caller's isolation applies.
	}, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
}

// migrateSQLite is AutoMigrate on SQLite. A deferred transaction would
// read the schema under a shared lock and then fail with SQLITE_BUSY when
// it upgrades to write while another process does the same; BEGIN
// IMMEDIATE waits (for the connection's busy_timeout) instead. database/sql
// has no way to ask for it, so the transaction is run by hand on one
// pinned connection. Inside a caller's transaction the caller's locking
// applies.
func migrateSQLite(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx).Session(&gorm.Session{NewDB: true})
	switch db.Statement.ConnPool.(type) {
	case gorm.TxCommitter:
		return createAll(db)
	case *sql.Conn:
		// Already pinned (the caller's db.Connection): the transaction
		// runs on that connection.
		return createImmediately(db)
	}
	return db.Connection(createImmediately)
}

// createImmediately runs createAll in a BEGIN IMMEDIATE transaction on
// conn, a pinned connection.
func createImmediately(conn *gorm.DB) error {
	if err := conn.Exec("BEGIN IMMEDIATE").Error; err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	err := createAll(conn)
	if err == nil {
		if err = conn.Exec("COMMIT").Error; err == nil {
			return nil
		}
		err = fmt.Errorf("commit: %w", err)
	}
	// A failed rollback leaves the transaction open on a connection that
	// goes back to the pool: close it instead.
	if rbErr := conn.Exec("ROLLBACK").Error; rbErr != nil {
		discardConn(conn)
		return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
	}
	return err
}

// discardConn marks conn's connection bad, so that the pool closes it
// instead of reusing it: database/sql drops a connection whose Raw
// callback reports driver.ErrBadConn (and returns that error, which says
// nothing more).
func discardConn(conn *gorm.DB) {
	if c, ok := conn.Statement.ConnPool.(*sql.Conn); ok {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// createAll creates what is missing of every model's table.
func createAll(tx *gorm.DB) error {
	for _, model := range models.All() {
		if err := createMissing(tx, model); err != nil {
			return err
		}
	}
	return nil
}

// createMissing creates model's table, with its indexes, or the indexes the
// table lacks. GORM's own AutoMigrate would also alter columns whose type
// differs, which would rewrite attesto_phoenix's tables.
func createMissing(tx *gorm.DB, model any) error {
	m := tx.Migrator()
	if !m.HasTable(model) {
		if err := m.CreateTable(model); err != nil {
			return fmt.Errorf("create table for %T: %w", model, err)
		}
		return nil
	}
	return createMissingIndexes(tx, model)
}

// createMissingIndexes creates the indexes of model's table that it lacks.
func createMissingIndexes(tx *gorm.DB, model any) error {
	m := tx.Migrator()
	sch, err := schema.Parse(model, &sync.Map{}, tx.NamingStrategy)
	if err != nil {
		return fmt.Errorf("parse %T: %w", model, err)
	}
	for _, idx := range sch.ParseIndexes() {
		if m.HasIndex(model, idx.Name) {
			continue
		}
		if err := m.CreateIndex(model, idx.Name); err != nil {
			return fmt.Errorf("create index %s: %w", idx.Name, err)
		}
	}
	return nil
}
