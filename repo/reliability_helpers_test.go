package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// Helpers shared by the reliability_*_test.go files.

const (
	cimdTable = "attesto_client_id_metadata"
	parTable  = "attesto_pushed_authorization_requests"
)

// openURL opens a pool of at most maxConns connections on dsn, closed
// when t ends. Unlike testdb.Open it takes any server's URL: the fault
// tests' own server, or the shared one as another role.
func openURL(t testing.TB, dsn string, maxConns int) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { sqlDB.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		t.Fatalf("ping %s: %v", dsn, err)
	}
	return db
}

// sharedURL is TEST_DATABASE_URL with params set (search_path, user, ...).
func sharedURL(t testing.TB, user *url.Userinfo, params url.Values) string {
	t.Helper()
	u, err := url.Parse(testdb.URL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	if user != nil {
		u.User = user
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// stores builds both GORM stores on db and fails t on error.
func stores(t testing.TB, db *gorm.DB, cfg *repo.Config) (*repo.GormClientIDMetadataCache, *repo.GormPARStore) {
	t.Helper()
	c, err := repo.NewGormClientIDMetadataCache(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := repo.NewGormPARStore(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// rawCount counts table's rows with raw SQL, not through a store. table
// is one of the two constants above.
func rawCount(t testing.TB, db *gorm.DB, table string) int64 {
	t.Helper()
	return testdb.Count(t, db, table)
}

// rawDocument reads the stored JSON of key straight from the table:
// found is false when no row has exactly that key.
func rawDocument(t testing.TB, db *gorm.DB, table, key string) (doc map[string]any, expiresAt time.Time, found bool) {
	t.Helper()
	var rows []struct {
		Doc       string
		ExpiresAt time.Time
	}
	var err error
	switch table {
	case cimdTable:
		err = db.Raw(`SELECT metadata::text AS doc, expires_at FROM attesto_client_id_metadata WHERE url = ?`, key).Scan(&rows).Error
	case parTable:
		err = db.Raw(`SELECT params::text AS doc, expires_at FROM attesto_pushed_authorization_requests WHERE request_uri = ?`, key).Scan(&rows).Error
	default:
		t.Fatalf("rawDocument: unknown table %s", table)
	}
	if err != nil {
		t.Fatalf("raw read of %s %.60q: %v", table, key, err)
	}
	switch len(rows) {
	case 0:
		return nil, time.Time{}, false
	case 1:
	default:
		t.Fatalf("%d rows in %s hold the primary key %.60q", len(rows), table, key)
	}
	doc, err = decodeJSONObject([]byte(rows[0].Doc))
	if err != nil {
		t.Fatalf("stored document of %.60q is not a JSON object: %v", key, err)
	}
	return doc, rows[0].ExpiresAt, true
}

// rawKeys returns every key stored in table, byte for byte.
func rawKeys(t testing.TB, db *gorm.DB, table string) map[string]bool {
	t.Helper()
	var keys []string
	var err error
	switch table {
	case cimdTable:
		err = db.Raw(`SELECT url FROM attesto_client_id_metadata`).Scan(&keys).Error
	case parTable:
		err = db.Raw(`SELECT request_uri FROM attesto_pushed_authorization_requests`).Scan(&keys).Error
	default:
		t.Fatalf("rawKeys: unknown table %s", table)
	}
	if err != nil {
		t.Fatalf("raw keys of %s: %v", table, err)
	}
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

// invalidFields returns the fields a changeset error names, or an error
// saying why err is not a well-formed rejection: it must match
// changesets.ErrInvalid and be a *changesets.Error naming at least one
// field.
func invalidFields(err error) (map[string]bool, error) {
	if err == nil {
		return nil, errors.New("no error")
	}
	if !errors.Is(err, changesets.ErrInvalid) {
		return nil, fmt.Errorf("error %q does not match changesets.ErrInvalid", err)
	}
	var cerr *changesets.Error
	if !errors.As(err, &cerr) {
		return nil, fmt.Errorf("error %q is not a *changesets.Error", err)
	}
	if len(cerr.Fields) == 0 {
		return nil, fmt.Errorf("error %q names no field", err)
	}
	fields := map[string]bool{}
	for _, f := range cerr.Fields {
		if f.Message == "" {
			return nil, fmt.Errorf("error %q has an empty message on %s", err, f.Field)
		}
		fields[f.Field] = true
	}
	return fields, nil
}

// fieldList renders a field set in a stable order.
func fieldList(fields map[string]bool) string {
	var names []string
	for _, f := range []string{"url", "request_uri", "metadata", "params", "expires_at", "inserted_at"} {
		if fields[f] {
			names = append(names, f)
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

// violations collects a concurrent test's failures, reporting the first
// few in full and counting the rest.
type violations struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (v *violations) add(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	if len(v.first) < 20 {
		v.first = append(v.first, fmt.Sprintf(format, args...))
	}
}

func (v *violations) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}

// report fails t with every collected violation.
func (v *violations) report(t testing.TB, what string) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.first {
		t.Error(s)
	}
	if v.n > 0 {
		t.Errorf("%s: %d violations in all", what, v.n)
	}
}

// sameJSON is repotest.JSONEqual, named for the reads of raw rows.
func sameJSON(a, b any) bool { return repotest.JSONEqual(a, b) }

// decodeJSONObject decodes one JSON object, numbers as json.Number.
func decodeJSONObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}
