package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attesto/gormstore/internal/dialect"
)

// defaultSQLiteFile is the database when neither --dsn nor $DATABASE_URL
// names one: a file in the working directory, so that the command runs on
// a fresh machine with no set-up.
const defaultSQLiteFile = "gormstore.db"

// defaultConnectTimeout bounds each PostgreSQL connection attempt unless
// the DSN sets connect_timeout: an unreachable server must fail the
// command within seconds, not after the kernel's TCP retries.
const defaultConnectTimeout = 5 * time.Second

// sqlitePragmas are the README's settings for a SQLite file, added unless
// the DSN sets them: a writer waits for another instead of failing with
// SQLITE_BUSY, and readers never wait for the writer.
var sqlitePragmas = []struct{ name, value string }{
	{"busy_timeout", "busy_timeout(10000)"},
	{"journal_mode", "journal_mode(WAL)"},
}

// target is the database a command works on.
type target struct {
	kind dialect.Kind // dialect.Postgres or dialect.SQLite
	// dsn is what the driver opens, with the defaults added.
	dsn string
	// display names the database in messages, without its password.
	display string
	// path is the SQLite file, so that commands that only read can say
	// it is missing instead of creating it.
	path string
	// connectTimeout is PostgreSQL's per-attempt connect timeout.
	connectTimeout time.Duration
	// defaulted is true when neither --dsn nor $DATABASE_URL was set.
	defaulted bool
}

// String names t in messages: the URL, which says PostgreSQL, or the
// SQLite file.
func (t target) String() string {
	if t.kind == dialect.Postgres {
		return t.display
	}
	return "sqlite " + t.display
}

// target resolves the database from the --dsn flag's value, the
// environment and the default. A DSN it cannot use is a usage error.
func (c *cli) target(flagDSN string) (target, error) {
	raw, from := flagDSN, "--dsn"
	if raw == "" {
		raw, from = c.getenv("DATABASE_URL"), "$DATABASE_URL"
	}
	if raw == "" {
		t, err := parseDSN(defaultSQLiteFile)
		t.defaulted = true
		return t, err
	}
	t, err := parseDSN(raw)
	if err != nil {
		return target{}, usagef("%s: %v", from, err)
	}
	return t, nil
}

// parseDSN reads a PostgreSQL URL or a SQLite file, without connecting.
func parseDSN(raw string) (target, error) {
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return parsePostgres(raw)
	case strings.HasPrefix(lower, "file:"):
		return parseSQLiteURI(raw)
	case strings.HasPrefix(lower, "sqlite:"):
		// sqlite:path, sqlite://relative/path or sqlite:///absolute/path.
		path := raw[len("sqlite:"):]
		path = strings.TrimPrefix(path, "//")
		return sqliteFile(path)
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return target{}, fmt.Errorf("unsupported database %q: gormstore runs on PostgreSQL (postgres://...) and SQLite (a file path)", scheme)
	}
	return sqliteFile(raw)
}

func parsePostgres(raw string) (target, error) {
	display := redactPassword(raw)
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		// pgx masks the password in its own text, but not always in the
		// error it wraps (net/url's quotes the whole URL).
		msg := err.Error()
		if pw := urlPassword(raw); pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return target{}, fmt.Errorf("invalid PostgreSQL URL %s: %s", display, msg)
	}
	t := target{kind: dialect.Postgres, dsn: raw, display: display, connectTimeout: cfg.ConnectTimeout}
	if t.connectTimeout == 0 {
		// Appended to the text rather than re-encoded: GORM's driver reads
		// TimeZone from the raw DSN, and re-encoding would escape its '/'.
		t.dsn = appendQuery(raw, fmt.Sprintf("connect_timeout=%d", int(defaultConnectTimeout.Seconds())))
		t.connectTimeout = defaultConnectTimeout
	}
	return t, nil
}

// sqliteFile is the SQLite database at path, as a file: URI.
func sqliteFile(path string) (target, error) {
	switch {
	case path == "":
		return target{}, fmt.Errorf("empty SQLite file name")
	case path == ":memory:":
		return target{}, errMemory
	}
	return target{
		kind:    dialect.SQLite,
		dsn:     withPragmas(sqliteURI(path), nil),
		display: path,
		path:    path,
	}, nil
}

var errMemory = fmt.Errorf("an in-memory SQLite database lives in one connection and ends with the command; give a file")

// sqliteURI is path as a SQLite file: URI. A plain path would do for the
// driver, except that it would split the path at a '?'.
func sqliteURI(path string) string {
	p := filepath.ToSlash(path)
	if filepath.IsAbs(path) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // C:/x.db is file:///C:/x.db
		}
		p = "//" + p
	}
	// The characters a SQLite URI path gives a meaning to.
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// parseSQLiteURI reads a file: URI, as SQLite itself does: its path is the
// database, its query the driver's and SQLite's options.
func parseSQLiteURI(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("invalid SQLite URI: %w", unwrapURLError(err))
	}
	if u.Host != "" && u.Host != "localhost" {
		return target{}, fmt.Errorf("invalid SQLite URI %q: a file: URI names a local file, not host %q", raw, u.Host)
	}
	path := u.Path
	if u.Opaque != "" {
		if path, err = url.PathUnescape(u.Opaque); err != nil {
			return target{}, fmt.Errorf("invalid SQLite URI %q: %w", raw, err)
		}
	}
	q := u.Query()
	switch {
	case path == ":memory:", q.Get("mode") == "memory":
		return target{}, errMemory
	case path == "":
		return target{}, fmt.Errorf("invalid SQLite URI %q: no file name", raw)
	}
	return target{kind: dialect.SQLite, dsn: withPragmas(raw, q["_pragma"]), display: path, path: filepath.FromSlash(path)}, nil
}

// withPragmas appends to dsn the sqlitePragmas that set lacks.
func withPragmas(dsn string, set []string) string {
	for _, p := range sqlitePragmas {
		if !hasPragma(set, p.name) {
			dsn = appendQuery(dsn, "_pragma="+p.value)
		}
	}
	return dsn
}

// hasPragma reports whether the _pragma values set hold pragma name, in
// either form the driver runs: name(value) or name=value.
func hasPragma(set []string, name string) bool {
	for _, v := range set {
		v = strings.ToLower(strings.TrimSpace(v))
		if rest, ok := strings.CutPrefix(v, name); ok && (rest == "" || strings.ContainsAny(rest[:1], "(= ")) {
			return true
		}
	}
	return false
}

// appendQuery appends one key=value to dsn's query.
func appendQuery(dsn, kv string) string {
	switch {
	case !strings.Contains(dsn, "?"):
		return dsn + "?" + kv
	case strings.HasSuffix(dsn, "?"), strings.HasSuffix(dsn, "&"):
		return dsn + kv
	}
	return dsn + "&" + kv
}

// redactPassword masks the password of a PostgreSQL URL, in its user
// information and in a password query parameter, for messages. It works
// on the text, so that a URL net/url cannot parse (several hosts) is
// masked too.
func redactPassword(raw string) string {
	if pw := urlPassword(raw); pw != "" {
		raw = strings.Replace(raw, ":"+pw+"@", ":xxxxx@", 1)
	}
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if k == "password" || k == "sslpassword" {
			parts[i] = k + "=xxxxx"
		}
	}
	return base + "?" + strings.Join(parts, "&")
}

// urlPassword is the password in a URL's user information, as written.
func urlPassword(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	// The user information ends at the last '@' before the path.
	if end := strings.IndexAny(rest, "/?"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}

// unwrapURLError drops net/url's quote of the whole input, which could
// hold a password.
func unwrapURLError(err error) error {
	if uerr, ok := err.(*url.Error); ok {
		return uerr.Err
	}
	return err
}
