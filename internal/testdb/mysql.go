package testdb

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/attesto/gormstore/internal/migrate"
)

// DefaultMySQLURL is the MariaDB/MySQL server the tests use when
// TEST_MYSQL_URL is unset, as GORM's documentation writes a DSN.
const DefaultMySQLURL = "root@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=True&loc=Local"

// MySQLURL returns TEST_MYSQL_URL, or DefaultMySQLURL.
func MySQLURL() string {
	if u := os.Getenv("TEST_MYSQL_URL"); u != "" {
		return u
	}
	return DefaultMySQLURL
}

var (
	mysqlAdminOnce sync.Once
	mysqlAdminGorm *gorm.DB
	mysqlAdmin     *sql.DB
	mysqlAdminErr  error
)

// mysqlAdminDB is one small pool, shared by the whole test binary, that
// creates and drops the tests' databases.
func mysqlAdminDB(t testing.TB) *gorm.DB {
	mysqlAdminOnce.Do(func() {
		mysqlAdminGorm, mysqlAdminErr = openPool(mysql.Open(MySQLURL()), 2)
		if mysqlAdminErr == nil {
			mysqlAdmin, mysqlAdminErr = mysqlAdminGorm.DB()
		}
	})
	if mysqlAdminErr != nil {
		t.Fatalf("testdb: connect to MariaDB at %s: %v (the README's test command starts a server)", MySQLURL(), mysqlAdminErr)
	}
	return mysqlAdminGorm
}

// MySQLDatabase creates an empty database for t on the MariaDB/MySQL
// server, dropped when t ends, and returns its name. MariaDB has no
// schemas within a database: a database per test is its isolation.
func MySQLDatabase(t testing.TB) string {
	t.Helper()
	name := schemaName(t.Name())
	if err := mysqlAdminDB(t).Exec("CREATE DATABASE ? CHARACTER SET utf8mb4", clause.Table{Name: name}).Error; err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := mysqlAdminDB(t).Exec("DROP DATABASE ?", clause.Table{Name: name}).Error; err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	return name
}

// MySQLConfig is the go-sql-driver configuration of MySQLURL pointed at
// database.
func MySQLConfig(t testing.TB, database string) *mysqldriver.Config {
	t.Helper()
	cfg, err := mysqldriver.ParseDSN(MySQLURL())
	if err != nil {
		t.Fatalf("testdb: TEST_MYSQL_URL: %v", err)
	}
	cfg.DBName = database
	return cfg
}

// OpenMySQL returns a pool of at most maxConns connections on database,
// closed when t ends. Two pools on one database stand for two nodes.
func OpenMySQL(t testing.TB, database string, maxConns int) *gorm.DB {
	t.Helper()
	return OpenMySQLWith(t, mysql.Config{DSNConfig: MySQLConfig(t, database)}, maxConns)
}

// OpenMySQLWith is OpenMySQL with a dialector configuration of the
// test's own, such as DisableWithReturning.
func OpenMySQLWith(t testing.TB, cfg mysql.Config, maxConns int) *gorm.DB {
	t.Helper()
	db, err := openPool(mysql.New(cfg), maxConns)
	if err != nil {
		t.Fatalf("testdb: open MariaDB: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// NewMySQL returns a pool on a fresh MariaDB/MySQL database holding the
// stores' tables, as AutoMigrate creates them.
func NewMySQL(t testing.TB) *gorm.DB {
	t.Helper()
	db := OpenMySQL(t, MySQLDatabase(t), 8)
	CreateMySQLTables(t, db)
	return db
}

// CreateMySQLTables creates the stores' tables in db's database.
func CreateMySQLTables(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := migrate.Run(context.Background(), db); err != nil {
		t.Fatalf("testdb: create tables: %v", err)
	}
}
