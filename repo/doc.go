// Package repo is the cluster-shared state of an OAuth 2 authorization
// server: a cache of validated Client ID Metadata Documents and a store of
// Pushed Authorization Requests, each kept through GORM in PostgreSQL,
// MariaDB (10.6 or later) or MySQL (8.0 or later), or in SQLite and in
// memory for a single node, development and tests. The GORM stores refuse
// other databases (ErrUnsupportedDialect).
//
// Each GORM store builds its statements once, when it is made, for the
// dialect of the *gorm.DB it is given, with GORM's clause builders, and
// runs them through GORM's Raw, Rows and Exec on a session of the caller's
// db, which may be a transaction and is never changed: the caller's logger,
// plugins, TranslateError and DryRun see every statement (docs/sql.md shows
// them). Making a store renders its statements in DryRun mode, so a plugin
// hooked on GORM's callbacks sees those renderings once, with DryRun set.
//
// Every operation is one SQL statement: Get, Fetch and Take read only rows
// whose expires_at is after now; the cache's Put upserts
// (clause.OnConflict: ON CONFLICT (url) DO UPDATE, or ON DUPLICATE KEY
// UPDATE on MariaDB and MySQL); the PAR store's Put refuses params without
// a non-empty client_id string (changesets.ErrInvalid), never overwrites,
// and reports a taken request_uri as ErrDuplicate without aborting a
// caller's transaction; Take is DELETE ... RETURNING, so of any number of callers on
// any number of nodes exactly one gets the row. MySQL has no RETURNING:
// there Take reads the row and deletes it, and the delete's affected-row
// count decides the one winner.
//
// The stores fail closed: a store without a database returns ErrNoDB and a
// database error is returned as an error, never as a miss.
//
// NearCache serves a node's hot CIMD documents from memory in front of a shared cache, evicted across nodes.
package repo
