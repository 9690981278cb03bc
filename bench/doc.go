// Package bench measures gormstore's stores against the limit of each
// operation, the same SQL sent by hand over pgxpool, and against the peer
// store a Go team would otherwise pick, github.com/alexedwards/scs's
// postgresstore. It holds benchmarks and tests only.
//
// Run everything, with benchstat tables and the ratios BENCHMARKS.md
// reports, with
//
//	bash scripts/bench.sh
//
// The benchmarks need PostgreSQL at TEST_DATABASE_URL and skip under
// -short. TestStatementsUseThePrimaryKey, a plain test that runs in CI,
// asserts that every store statement is planned as an index scan on the
// table's primary key.
package bench
