// Package bench measures gormstore's stores against the limit of each
// operation, the same SQL sent by hand (over pgxpool on PostgreSQL, over
// go-sql-driver/mysql on MariaDB), against the stores' previous internal
// call path (a measurement baseline in test code: internalpath_test.go),
// and against the peer store a Go team would otherwise pick,
// github.com/alexedwards/scs's postgresstore. It holds benchmarks and tests
// only.
//
// Run everything, with benchstat tables and the ratios BENCHMARKS.md
// reports, with
//
//	bash scripts/bench.sh
//
// The benchmarks need PostgreSQL at TEST_DATABASE_URL and MariaDB at
// TEST_MYSQL_URL, and skip under -short. Three plain tests run in CI:
// TestStatementsUseThePrimaryKey asserts that every store statement is
// planned as an index scan on the table's primary key and is the one the
// PostgreSQL contenders send by hand; TestMariaDBStatementsAreTheStores
// checks the same of the MariaDB contenders; TestContendersAgree checks
// that every contender gives the stores' answers.
package bench
