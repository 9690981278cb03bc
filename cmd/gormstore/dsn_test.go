package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/attesto/gormstore/internal/dialect"
)

// TestParseDSN: what the drivers get for each form of --dsn, and how
// messages show it. These run in-process: nothing connects.
func TestParseDSN(t *testing.T) {
	t.Parallel()
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	tests := []struct {
		raw  string
		kind dialect.Kind
		// dsn is what the PostgreSQL (with the connect timeout set on its
		// configuration) or SQLite driver opens, or the MySQL driver's
		// configuration as it formats it.
		dsn     string
		display string
		path    string
		timeout time.Duration
	}{
		{"gormstore.db", dialect.SQLite, "file:gormstore.db?" + pragmas, "gormstore.db", "gormstore.db", 0},
		{"/var/lib/app/store.db", dialect.SQLite, "file:///var/lib/app/store.db?" + pragmas, "/var/lib/app/store.db", "/var/lib/app/store.db", 0},
		// The characters a SQLite URI gives a meaning to are escaped.
		{"dir/a?b#c%d.db", dialect.SQLite, "file:dir/a%3fb%23c%25d.db?" + pragmas, "dir/a?b#c%d.db", "dir/a?b#c%d.db", 0},
		// Parentheses in a path without user information are a path.
		{"dir(1)/backup(2).db", dialect.SQLite, "file:dir(1)/backup(2).db?" + pragmas, "dir(1)/backup(2).db", "dir(1)/backup(2).db", 0},
		{"C:/data/x.db", dialect.SQLite, "file:C:/data/x.db?" + pragmas, "C:/data/x.db", "C:/data/x.db", 0},
		{"sqlite:x.db", dialect.SQLite, "file:x.db?" + pragmas, "x.db", "x.db", 0},
		{"sqlite:///tmp/x.db", dialect.SQLite, "file:///tmp/x.db?" + pragmas, "/tmp/x.db", "/tmp/x.db", 0},
		// What a plain path may not hold, sqlite: allows.
		{"sqlite:a=b@c.db", dialect.SQLite, "file:a=b@c.db?" + pragmas, "a=b@c.db", "a=b@c.db", 0},
		{"file:x.db", dialect.SQLite, "file:x.db?" + pragmas, "x.db", "x.db", 0},
		// The DSN's own pragmas are kept, and not doubled.
		{"file:x.db?_pragma=busy_timeout(1)", dialect.SQLite, "file:x.db?_pragma=busy_timeout(1)&_pragma=journal_mode(WAL)", "x.db", "x.db", 0},
		{"file:///tmp/x.db?_pragma=journal_mode=DELETE&_pragma=BUSY_TIMEOUT(5)", dialect.SQLite, "file:///tmp/x.db?_pragma=journal_mode=DELETE&_pragma=BUSY_TIMEOUT(5)", "/tmp/x.db", "/tmp/x.db", 0},

		{"postgres://u:pw@db.internal:5432/app?sslmode=require", dialect.Postgres, "postgres://u:pw@db.internal:5432/app?sslmode=require", "postgres://u:xxxxx@db.internal:5432/app?sslmode=require", "", 5 * time.Second},
		{"postgresql://db/app", dialect.Postgres, "postgresql://db/app", "postgresql://db/app", "", 5 * time.Second},
		{"POSTGRES://u:pw@db/app", dialect.Postgres, "postgres://u:pw@db/app", "POSTGRES://u:xxxxx@db/app", "", 5 * time.Second},
		{"postgres://db/app?connect_timeout=30&password=pw", dialect.Postgres, "postgres://db/app?connect_timeout=30&password=pw", "postgres://db/app?connect_timeout=30&password=xxxxx", "", 30 * time.Second},
		// A percent-encoded key, which pgx decodes: password.
		{"postgres://db/app?pass%77ord=p%2Fw", dialect.Postgres, "postgres://db/app?pass%77ord=p%2Fw", "postgres://db/app?pass%77ord=xxxxx", "", 5 * time.Second},
		// A '?' in the password, which pgx reads as the password's.
		{"postgres://u:pw?x@db/app", dialect.Postgres, "postgres://u:pw?x@db/app", "postgres://u:xxxxx@db/app", "", 5 * time.Second},
		// An '@' in the password, as net/url and pgx read it.
		{"postgres://u:p@w@db/app", dialect.Postgres, "postgres://u:p@w@db/app", "postgres://u:xxxxx@db/app", "", 5 * time.Second},

		// Keyword/value, as GORM's documentation writes it: the password
		// is masked wherever it appears, here as the user and database too.
		{"host=localhost user=gorm password=gorm dbname=gorm port=9920 sslmode=disable TimeZone=Asia/Shanghai", dialect.Postgres,
			"host=localhost user=gorm password=gorm dbname=gorm port=9920 sslmode=disable TimeZone=Asia/Shanghai",
			"host=localhost user=xxxxx password=xxxxx dbname=xxxxx port=9920 sslmode=disable TimeZone=Asia/Shanghai", "", 5 * time.Second},
		{"host=db user=app password='a b\\'c' dbname=app connect_timeout=30 ", dialect.Postgres, "host=db user=app password='a b\\'c' dbname=app connect_timeout=30 ", "host=db user=app password='xxxxx' dbname=app connect_timeout=30 ", "", 30 * time.Second},
		{"dbname=app", dialect.Postgres, "dbname=app", "dbname=app", "", 5 * time.Second},

		// MySQL and MariaDB, as GORM's documentation writes the DSN.
		{"root:pw@tcp(127.0.0.1:3306)/app?charset=utf8mb4&parseTime=True&loc=Local", dialect.MySQL,
			"root:pw@tcp(127.0.0.1:3306)/app?loc=Local&parseTime=true&timeout=5s&charset=utf8mb4",
			"root:xxxxx@tcp(127.0.0.1:3306)/app?charset=utf8mb4&parseTime=True&loc=Local", "", 5 * time.Second},
		// The driver reads the password up to the last '@' before the
		// last '/'.
		{"user:p@ss/w@tcp(h:3306)/app?timeout=30s", dialect.MySQL, "user:p@ss/w@tcp(h:3306)/app?timeout=30s", "user:xxxxx@tcp(h:3306)/app?timeout=30s", "", 30 * time.Second},
		{"user:pw@/app", dialect.MySQL, "user:pw@tcp(127.0.0.1:3306)/app?timeout=5s", "user:xxxxx@/app", "", 5 * time.Second},
		{"tcp(db:3306)/app", dialect.MySQL, "tcp(db:3306)/app?timeout=5s", "tcp(db:3306)/app", "", 5 * time.Second},
		{"user@unix(/run/mysqld/mysqld.sock)/app", dialect.MySQL, "user@unix(/run/mysqld/mysqld.sock)/app?timeout=5s", "user@unix(/run/mysqld/mysqld.sock)/app", "", 5 * time.Second},
		// mysql:// before a driver DSN (golang-migrate's form) or a URL.
		{"mysql://user:pw@tcp(db:3306)/app", dialect.MySQL, "user:pw@tcp(db:3306)/app?timeout=5s", "mysql://user:xxxxx@tcp(db:3306)/app", "", 5 * time.Second},
		{"mysql://user:p%40ss@db:3307/app?parseTime=true", dialect.MySQL, "user:p@ss@tcp(db:3307)/app?parseTime=true&timeout=5s", "mysql://user:xxxxx@db:3307/app?parseTime=true", "", 5 * time.Second},
		{"mysql://user:pw@db/app", dialect.MySQL, "user:pw@tcp(db:3306)/app?timeout=5s", "mysql://user:xxxxx@db/app", "", 5 * time.Second},
		{"MySQL://[::1]/my%20app", dialect.MySQL, "tcp([::1]:3306)/my%20app?timeout=5s", "MySQL://[::1]/my%20app", "", 5 * time.Second},
	}
	for _, tt := range tests {
		got, err := parseDSN(tt.raw)
		if err != nil {
			t.Errorf("parseDSN(%q): %v", tt.raw, err)
			continue
		}
		dsn := got.dsn
		if got.mysql != nil {
			// Compared as the driver writes both: releases order the
			// parameters differently.
			dsn = got.mysql.FormatDSN()
			if want, err := mysql.ParseDSN(tt.dsn); err == nil {
				tt.dsn = want.FormatDSN()
			}
		}
		if got.kind != tt.kind || dsn != tt.dsn || got.display != tt.display || got.path != tt.path || got.connectTimeout != tt.timeout {
			t.Errorf("parseDSN(%q) = kind %v, dsn %q, display %q, path %q, timeout %v\nwant kind %v, dsn %q, display %q, path %q, timeout %v",
				tt.raw, got.kind, dsn, got.display, got.path, got.connectTimeout, tt.kind, tt.dsn, tt.display, tt.path, tt.timeout)
		}
	}
}

// TestParseDSNErrors: a DSN that no driver reads, or that could be read
// two ways, is refused, saying why, and never with its password.
func TestParseDSNErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"postgres://u:s3cret@host:99999/db", "invalid port"},
		{"postgres://u:s3cret@%zz/db", "invalid percent-encoded token"},
		// A '/' or '?' in the password, not percent-encoded.
		{"postgres://u:s3cret/x@h/db", "invalid PostgreSQL URL postgres://u:xxxxx@h/db"},
		{"postgres://h/db?pass%77ord=s3cret&port=99999", "invalid PostgreSQL URL postgres://h/db?pass%77ord=xxxxx&port=99999"},
		// Where pgx cannot read a keyword/value DSN, everything after the
		// password keyword is masked: its end is uncertain.
		{"host=db password=s3cret port=notaport", "invalid PostgreSQL DSN host=db password=xxxxx: cannot parse `host=db password=xxxxx xxxxx`: invalid port"},
		{"host=db password='s3cret and more", "invalid PostgreSQL DSN host=db password=xxxxx: "},
		{"host=db password='s3cret 's3cret' dbname=x", "invalid PostgreSQL DSN host=db password=xxxxx: "},
		// A misspelt keyword, which pgx would send to the server.
		{"host=db pasword=s3cret port=notaport", "invalid PostgreSQL DSN host=db pasword=xxxxx: "},
		{"redis://localhost", `unsupported database "redis"`},
		{"mysql://u:s3cret@%zz/db", "invalid MySQL URL mysql://u:xxxxx@%zz/db"},
		{"mysql:///db", "invalid MySQL URL mysql:///db: no host"},
		{"root:s3cret@tcp(h:3306)/", "MySQL DSN root:xxxxx@tcp(h:3306)/ names no database"},
		{"mysql://u:s3cret@/", "MySQL DSN mysql://u:xxxxx@/ names no database"},
		{"root:s3cret@tcp(h:3306", "invalid MySQL DSN root:xxxxx@tcp(h:3306"},
		{"root:s3cret@tcp(h:3306)/db?parseTime=maybe", "invalid MySQL DSN root:xxxxx@tcp(h:3306)/db?parseTime=maybe: invalid bool value: maybe"},
		// A path that reads as a DSN: refused, with the way to say "file".
		{"me@corp/x.db", "(for a SQLite file whose name has an '@', write sqlite:NAME)"},
		{"x.db?cache=shared", "ambiguous DSN x.db?cache=shared: it has an '=' but no PostgreSQL connection keyword"},
		{"a=b.db", "ambiguous DSN a=b.db"},
		{"localhost:5432/test", `ambiguous DSN localhost:5432/test: a "name:" before the first slash`},
		{"postgres:/test", "ambiguous DSN postgres:/test"},
		{":memory:", "in-memory"},
		{"file::memory:?cache=shared", "in-memory"},
		{"file:x.db?mode=memory", "in-memory"},
		{"file://otherhost/x.db", `not host "otherhost"`},
		{"file://u:s3cret@otherhost/x.db", `invalid SQLite URI file://u:xxxxx@otherhost/x.db`},
		{"sqlite:", "empty SQLite file name"},
	}
	for _, tt := range tests {
		_, err := parseDSN(tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseDSN(%q) = %v, want an error with %q", tt.raw, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("parseDSN(%q): the error shows the password: %v", tt.raw, err)
		}
	}
}

// TestMaskDSN: every reading of a password is masked, and what is not a
// password stays as written.
func TestMaskDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw    string
		want   string   // the masked text, when it is exact
		hidden []string // what must not remain
	}{
		{"postgres://u:pw@h:5432/db?sslmode=require", "postgres://u:xxxxx@h:5432/db?sslmode=require", nil},
		{"postgres://u@h/db?application_name=a:b", "postgres://u@h/db?application_name=a:b", nil},
		{"postgres://u:a/b?c@h/db", "postgres://u:xxxxx@h/db", []string{"a/b?c", "b?c"}},
		{"postgres://u:a#b@h/db", "postgres://u:xxxxx@h/db", []string{"a#b"}},
		{"postgres://u:pw1@s3cret@h/db", "postgres://u:xxxxx@h/db", []string{"pw1", "s3cret"}},
		{"postgres://u:p%2Fw@h/db", "postgres://u:xxxxx@h/db", []string{"p%2Fw", "p/w"}},
		{"postgres://h/db?pass%77ord=p%2Fw&x=1", "postgres://h/db?pass%77ord=xxxxx&x=1", []string{"p%2Fw", "p/w"}},
		{"postgres://h/db?sslpassword=kp1&sslmode=require", "postgres://h/db?sslpassword=xxxxx&sslmode=require", nil},
		// net/url would end the value at the '#': the rest is masked too.
		{"postgres://h/db?PASSWORD=pw9#frag", "postgres://h/db?PASSWORD=xxxxx", nil},
		{"host=h pasword=pw", "host=h pasword=xxxxx", nil},
		{"host=h password='a b\\'c' user=u", "host=h password='xxxxx' user=u", []string{"a b'c", "b\\'c"}},
		{"host=h password=a\\ b user=u", "host=h password=xxxxx user=u", []string{"a\\ b", "a b"}},
		{"password = pw host=h", "password = xxxxx host=h", nil},
		{"PASSWORD=pw host=h", "PASSWORD=xxxxx host=h", nil},
		{"host=h sslpassword=kp passfile=/etc/pgpass", "host=h sslpassword=xxxxx passfile=/etc/pgpass", nil},
		{"u:p@ss/w@tcp(h)/db", "u:xxxxx@tcp(h)/db", []string{"p@ss/w", "ss/w"}},
		{"u:pw@tcp(h)/db?loc=Europe%2FParis", "u:xxxxx@tcp(h)/db?loc=Europe%2FParis", nil},
		{"mysql://u:p%40ss@h/db", "mysql://u:xxxxx@h/db", []string{"p%40ss", "p@ss"}},
		{"--dsn=postgres://u:pw1@h/db", "--dsn=postgres://u:xxxxx@h/db", nil},
		{"--dsn=host=h password=pw2", "--dsn=host=h password=xxxxx", nil},
		{"-dsn=password=pw3 host=h", "-dsn=password=xxxxx host=h", nil},
		{"/var/lib/app/store.db", "/var/lib/app/store.db", nil},
	}
	for _, tt := range tests {
		got := maskDSN(tt.raw)
		if got != tt.want {
			t.Errorf("maskDSN(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		for _, h := range tt.hidden {
			if strings.Contains(got, h) {
				t.Errorf("maskDSN(%q) = %q still holds %q", tt.raw, got, h)
			}
		}
	}
}

// TestMaskOnePass: what mask writes is not masked again, and the pieces
// of a password a driver may split are masked.
func TestMaskOnePass(t *testing.T) {
	t.Parallel()
	if got, want := mask("a xx b x", []string{"x", "xx", ""}), "a xxxxx b xxxxx"; got != want {
		t.Errorf("mask = %q, want %q", got, want)
	}
	// A driver that split the password at its first '@' quotes the rest
	// as the host: that piece is masked too.
	msg := "hostname resolving error: lookup s3cret@h: no such host"
	if got, want := mask(msg, secretsIn("postgres://u:pw1@s3cret@h/db")), "hostname resolving error: lookup xxxxx@h: no such host"; got != want {
		t.Errorf("mask = %q, want %q", got, want)
	}
}

// TestMaskingWriter: what goes out is masked, write by write, for
// passwords long enough not to garble the rest; the caller sees its
// bytes written.
func TestMaskingWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := newMaskingWriter(&buf, secretsIn("postgres://u:Long-s3cret@h/db?password=pw"))
	msg := "driver said: password Long-s3cret rejected; 1 pw\n"
	n, err := w.Write([]byte(msg))
	if err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(msg))
	}
	if got, want := buf.String(), "driver said: password xxxxx rejected; 1 pw\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if w := newMaskingWriter(&buf, []string{"pw"}); w != &buf {
		t.Errorf("a writer with only short secrets to mask is %T, want the writer itself", w)
	}
}

// TestConnectErrorMasks: whatever a driver's error quotes of the DSN's
// password is masked in the command's message.
func TestConnectErrorMasks(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"postgres://u:pw@h/db", "host=h password=pw", "u:pw@tcp(h)/db"} {
		tg, err := parseDSN(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := connectError(tg, errors.New("auth failed for password pw")).Error()
		if strings.Contains(got, "pw") || !strings.Contains(got, "auth failed for password xxxxx") {
			t.Errorf("connectError for %q: %s", raw, got)
		}
	}
}
