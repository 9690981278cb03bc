package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/models"
)

// mysqlLockTimeout is how long, in seconds, a node waits for another's
// AutoMigrate on MariaDB and MySQL; the caller's ctx can end the wait
// sooner (the driver then closes the connection, which frees the lock).
const mysqlLockTimeout = 600

// errMySQLInTransaction is Run's answer to a transaction on MariaDB or
// MySQL, where every CREATE commits the transaction it runs in.
var errMySQLInTransaction = errors.New("MariaDB and MySQL commit a transaction at every CREATE: run AutoMigrate on the pool, not in a transaction")

// migrateMySQL is AutoMigrate on MariaDB and MySQL. Their DDL is not
// transactional, so nodes are serialised by a named lock (GET_LOCK), held
// by one pinned connection and scoped to the current database. The
// tables are created from the MySQL migration file: the models' column
// types are PostgreSQL's.
func migrateMySQL(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx).Session(&gorm.Session{NewDB: true})
	if _, ok := db.Statement.ConnPool.(gorm.TxCommitter); ok {
		return errMySQLInTransaction
	}
	return db.Connection(func(conn *gorm.DB) (err error) {
		// Each call below starts a statement of its own: on Connection's
		// instance one failed call would carry its error into the next.
		conn = conn.Session(&gorm.Session{})
		var got *int64
		if err := conn.Raw("SELECT GET_LOCK(CONCAT('gormstore AutoMigrate ', DATABASE()), ?)", mysqlLockTimeout).Row().Scan(&got); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if got == nil || *got != 1 {
			return fmt.Errorf("lock: another node held it for %d s", mysqlLockTimeout)
		}
		defer func() {
			if rerr := conn.Exec("DO RELEASE_LOCK(CONCAT('gormstore AutoMigrate ', DATABASE()))").Error; rerr != nil {
				// The lock stays with the connection: close it instead of
				// handing it back to the pool.
				discardConn(conn)
				err = errors.Join(err, fmt.Errorf("unlock: %w", rerr))
			}
		}()
		return createMySQL(conn)
	})
}

// createMySQL creates the tables the database lacks, each from its
// CREATE TABLE in the MySQL migration file, and then any index an
// existing table lacks.
func createMySQL(conn *gorm.DB) error {
	up, err := Up(MySQL)
	if err != nil {
		return err
	}
	m := conn.Migrator()
	for _, model := range models.All() {
		name := model.(interface{ TableName() string }).TableName()
		if m.HasTable(model) {
			if err := createMissingIndexes(conn, model); err != nil {
				return err
			}
			continue
		}
		create := createStatement(string(up), name)
		if create == "" {
			return fmt.Errorf("no CREATE TABLE for %s in the MySQL migration", name)
		}
		if err := conn.Exec(create).Error; err != nil {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	return nil
}

// createStatement returns the statement of the migration file up that
// creates table, or "".
func createStatement(up, table string) string {
	var code strings.Builder
	for _, line := range strings.SplitAfter(up, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			code.WriteString(line)
		}
	}
	for _, stmt := range strings.Split(code.String(), ";") {
		if strings.Contains(stmt, "CREATE TABLE IF NOT EXISTS "+table+" (") {
			return strings.TrimSpace(stmt)
		}
	}
	return ""
}
