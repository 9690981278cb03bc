package main

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/attesto/gormstore/internal/dialect"
)

// defaultSQLiteFile is the database when neither --dsn nor $DATABASE_URL
// names one: a file in the working directory, so that the command runs on
// a fresh machine with no set-up.
const defaultSQLiteFile = "gormstore.db"

// defaultConnectTimeout bounds each PostgreSQL connection attempt unless
// the DSN sets connect_timeout, and MySQL's dial unless it sets timeout:
// an unreachable server must fail the command within seconds, not after
// the kernel's TCP retries.
const defaultConnectTimeout = 5 * time.Second

// sqlitePragmas are docs/databases.md's settings for a SQLite file, added
// unless the DSN sets them: a writer waits for another instead of failing
// with SQLITE_BUSY, and readers never wait for the writer.
var sqlitePragmas = []struct{ name, value string }{
	{"busy_timeout", "busy_timeout(10000)"},
	{"journal_mode", "journal_mode(WAL)"},
}

// target is the database a command works on.
type target struct {
	kind dialect.Kind // dialect.Postgres, dialect.MySQL or dialect.SQLite
	// dsn is what the PostgreSQL or SQLite driver opens, with the
	// defaults added.
	dsn string
	// mysql is the MySQL driver's configuration, with the defaults added.
	mysql *mysqldriver.Config
	// display names the database in messages, without its password.
	display string
	// secrets are the DSN's password, in every form a driver's error
	// could quote it (secretsIn).
	secrets []string
	// path is the SQLite file, so that commands that only read can say
	// it is missing instead of creating it.
	path string
	// connectTimeout is PostgreSQL's per-attempt connect timeout, or
	// MySQL's dial timeout.
	connectTimeout time.Duration
	// defaulted is true when neither --dsn nor $DATABASE_URL was set.
	defaulted bool
}

// String names t in messages: a URL says what it is; the other forms
// get the dialect's name before them.
func (t target) String() string {
	return databaseLabel(dialectName(t.kind), t.display)
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

// parseDSN tells which database raw names, and reads it with that
// driver's own parser, without connecting:
//   - postgres:// and postgresql:// URLs, and keyword/value DSNs that set a
//     libpq connection keyword (host=, dbname=, user=...), are PostgreSQL,
//     read by pgx;
//   - go-sql-driver/mysql DSNs (user:password@tcp(host:3306)/db?...), and
//     mysql:// followed by one or by a URL (mysql://user:password@host/db),
//     are MySQL and MariaDB, read by the MySQL driver;
//   - file: URIs, sqlite: paths and plain paths are SQLite files.
//
// A plain path cannot hold what would make it look like a DSN (an '=', an
// '@', a "host:" before its first slash): those are refused as ambiguous,
// and sqlite:path names such a file. Every error masks the password.
func parseDSN(raw string) (target, error) {
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		// pgx tells a URL from a keyword/value DSN by the lower-case
		// scheme; net/url reads any case.
		scheme, rest, _ := strings.Cut(raw, "://")
		return parsePostgres(strings.ToLower(scheme)+"://"+rest, raw, "URL")
	case strings.HasPrefix(lower, "mysql://"):
		return parseMySQLURL(raw)
	case strings.HasPrefix(lower, "file:"):
		return parseSQLiteURI(raw)
	case strings.HasPrefix(lower, "sqlite:"):
		// sqlite:path, sqlite://relative/path or sqlite:///absolute/path.
		path := raw[len("sqlite:"):]
		path = strings.TrimPrefix(path, "//")
		return sqliteFile(path)
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return target{}, fmt.Errorf("unsupported database %q: gormstore runs on PostgreSQL, MySQL/MariaDB and SQLite (see 'gormstore help dsn')", maskDSN(scheme))
	case isKeywordValue(raw):
		return parsePostgres(raw, raw, "DSN")
	case looksLikeMySQL(raw):
		t, err := parseMySQL(raw, raw)
		if err != nil {
			return target{}, fmt.Errorf("%w (for a SQLite file whose name has an '@', write sqlite:NAME)", err)
		}
		return t, nil
	case strings.Contains(raw, "="):
		return target{}, fmt.Errorf("ambiguous DSN %s: it has an '=' but no PostgreSQL connection keyword (host=, dbname=, user=...); for a SQLite file of that name, write sqlite:NAME", maskDSN(raw))
	case hostLike(raw):
		return target{}, fmt.Errorf("ambiguous DSN %s: a \"name:\" before the first slash reads as a host and port or a scheme, not a file; write postgres://..., user:password@tcp(host:port)/db, or sqlite:NAME for a file", maskDSN(raw))
	}
	return sqliteFile(raw)
}

// libpqKeywords are the keyword/value DSN keywords that say where and how
// to connect; a DSN with none of them (a=b.db) is not taken for one.
var libpqKeywords = []string{
	"host", "hostaddr", "port", "dbname", "user", "password", "passfile",
	"sslmode", "service", "servicefile", "connect_timeout", "target_session_attrs",
}

// keywordKey finds the keys of a keyword/value DSN.
var keywordKey = regexp.MustCompile(`(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// isKeywordValue reports whether raw reads as a keyword/value DSN, as GORM's
// documentation writes PostgreSQL's: host=... user=... password=...
func isKeywordValue(raw string) bool {
	for _, m := range keywordKey.FindAllStringSubmatch(raw, -1) {
		if slices.Contains(libpqKeywords, strings.ToLower(m[1])) {
			return true
		}
	}
	return false
}

// mysqlNet is the protocol(address) of a MySQL DSN, where no user
// information precedes it: a path "dir(1)/x.db" is a path.
var mysqlNet = regexp.MustCompile(`^(?:tcp|tcp4|tcp6|unix)\(.*\)$`)

// looksLikeMySQL reports whether raw reads as a go-sql-driver DSN:
// user information before the last slash, or a protocol(address) alone.
func looksLikeMySQL(raw string) bool {
	prefix := raw
	if slash := strings.LastIndex(raw, "/"); slash >= 0 {
		prefix = raw[:slash]
	}
	return strings.Contains(prefix, "@") || mysqlNet.MatchString(prefix)
}

// hostLike reports whether raw's first path element has a ':' (host:port,
// scheme:), other than a Windows drive letter's.
func hostLike(raw string) bool {
	if len(raw) >= 3 && raw[1] == ':' && (raw[2] == '/' || raw[2] == '\\') {
		raw = raw[2:]
	}
	first := raw
	if end := strings.IndexAny(raw, "/\\"); end >= 0 {
		first = raw[:end]
	}
	return strings.Contains(first, ":") && first != ":memory:"
}

// parsePostgres reads a PostgreSQL URL or keyword/value DSN with pgx; raw
// is what the operator wrote, for messages, and form names the form.
func parsePostgres(dsn, raw, form string) (target, error) {
	secrets := secretsIn(raw)
	display := mask(raw, secrets)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx masks the password in its own text, but not always in the
		// error it wraps (net/url's quotes the whole URL), and where the
		// DSN is malformed the password may not end where either thinks.
		suspect := malformedSecrets(raw)
		return target{}, fmt.Errorf("invalid PostgreSQL %s %s: %s", form, mask(raw, suspect), mask(err.Error(), suspect))
	}
	// The DSN goes to GORM's driver as written: open sets the connect
	// timeout on pgx's configuration when the DSN has none, as text
	// appended to a DSN could land where pgx reads a password.
	t := target{kind: dialect.Postgres, dsn: dsn, display: display, secrets: secrets, connectTimeout: cfg.ConnectTimeout}
	if t.connectTimeout == 0 {
		t.connectTimeout = defaultConnectTimeout
	}
	return t, nil
}

// parseMySQLURL reads mysql:// followed by a go-sql-driver DSN
// (golang-migrate's form: mysql://user:password@tcp(host:3306)/db) or by
// the rest of a URL (mysql://user:password@host:3306/db?params).
func parseMySQLURL(raw string) (target, error) {
	rest := raw[len("mysql://"):]
	if hasMySQLNet(rest) || strings.Contains(rest, "@/") {
		return parseMySQL(rest, raw)
	}
	secrets := secretsIn(raw)
	u, err := url.Parse("mysql://" + rest)
	if err != nil {
		return target{}, fmt.Errorf("invalid MySQL URL %s: %s", mask(raw, secrets), mask(unwrapURLError(err).Error(), secrets))
	}
	if u.Host == "" {
		return target{}, fmt.Errorf("invalid MySQL URL %s: no host", mask(raw, secrets))
	}
	// The driver reads the address, database and parameters; the user
	// information is the URL's, percent-decoded.
	host := u.Host
	if u.Port() == "" {
		// The driver would add the port to "[::1]" as to a name.
		host = net.JoinHostPort(u.Hostname(), "3306")
	}
	driverDSN := "tcp(" + host + ")/" + strings.TrimPrefix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		driverDSN += "?" + u.RawQuery
	}
	t, err := parseMySQL(driverDSN, raw)
	if err != nil {
		return target{}, err
	}
	if u.User != nil {
		t.mysql.User = u.User.Username()
		t.mysql.Passwd, _ = u.User.Password()
	}
	return t, nil
}

// hasMySQLNet reports whether a DSN has a go-sql-driver protocol(address)
// after its user information.
func hasMySQLNet(dsn string) bool {
	prefix := dsn
	if slash := strings.LastIndex(dsn, "/"); slash >= 0 {
		prefix = dsn[:slash]
	}
	if at := strings.LastIndex(prefix, "@"); at >= 0 {
		prefix = prefix[at+1:]
	}
	return strings.HasSuffix(prefix, ")") && strings.Contains(prefix, "(")
}

// parseMySQL reads a go-sql-driver DSN with the driver's parser; raw is
// what the operator wrote, for messages.
func parseMySQL(dsn, raw string) (target, error) {
	secrets := secretsIn(raw)
	display := mask(raw, secrets)
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return target{}, fmt.Errorf("invalid MySQL DSN %s: %s", display, mask(err.Error(), secrets))
	}
	if cfg.DBName == "" {
		return target{}, fmt.Errorf("MySQL DSN %s names no database: write it after the slash, as in user:password@tcp(host:3306)/dbname", display)
	}
	t := target{kind: dialect.MySQL, mysql: cfg, display: display, secrets: secrets, connectTimeout: cfg.Timeout}
	if t.connectTimeout == 0 {
		cfg.Timeout = defaultConnectTimeout
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
		return target{}, fmt.Errorf("invalid SQLite URI %s: %s", maskDSN(raw), mask(unwrapURLError(err).Error(), secretsIn(raw)))
	}
	if u.Host != "" && u.Host != "localhost" {
		return target{}, fmt.Errorf("invalid SQLite URI %s: a file: URI names a local file, not host %q", maskDSN(raw), u.Hostname())
	}
	path := u.Path
	if u.Opaque != "" {
		if path, err = url.PathUnescape(u.Opaque); err != nil {
			return target{}, fmt.Errorf("invalid SQLite URI %s: %w", maskDSN(raw), err)
		}
	}
	q := u.Query()
	switch {
	case path == ":memory:", q.Get("mode") == "memory":
		return target{}, errMemory
	case path == "":
		return target{}, fmt.Errorf("invalid SQLite URI %s: no file name", maskDSN(raw))
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

// unwrapURLError drops net/url's quote of the whole input, which could
// hold a password.
func unwrapURLError(err error) error {
	if uerr, ok := err.(*url.Error); ok {
		return uerr.Err
	}
	return err
}
