// Package repo is the cluster-shared state of an OAuth 2 authorization
// server: a cache of validated Client ID Metadata Documents and a store of
// Pushed Authorization Requests, each kept in PostgreSQL through GORM (or
// in SQLite, and in memory, for a single node, development and tests). The
// GORM stores refuse other databases (ErrUnsupportedDialect).
//
// Every operation is one SQL statement on the caller's *gorm.DB, which may
// be a transaction: Get, Fetch and Take read only rows whose expires_at is
// after now; the cache's Put upserts with ON CONFLICT (url) DO UPDATE; the
// PAR store's Put inserts with ON CONFLICT DO NOTHING and reports a taken
// request_uri as ErrDuplicate; Take is DELETE ... RETURNING, so of any
// number of callers on any number of nodes exactly one gets the row.
//
// The stores fail closed: a store without a database returns ErrNoDB and a
// database error is returned as an error, never as a miss.
package repo
