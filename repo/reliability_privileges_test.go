package repo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/testdb"
)

// A database user that may not write gets a clear error from every write,
// never a nil error and never a miss, and nothing changes; reads work
// where the user may read.
func TestReliabilityRestrictedDatabaseUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const (
		cimdURL = "https://app.example.com/oauth/client-metadata.json"
		uri     = "urn:ietf:params:oauth:request_uri:seeded"
	)
	doc := map[string]any{"client_id": cimdURL, "scope": "openid"}

	for _, tc := range []struct {
		name string
		// grant gives the role its rights on the schema, in statements of
		// the test's own with the role and schema as identifiers.
		grant func(t *testing.T, su *gorm.DB, role, schema string)
		// readCode is the SQLSTATE of a read, "" when reads work.
		readCode, writeCode, writeText string
	}{
		{
			name: "SELECT only",
			grant: func(t *testing.T, su *gorm.DB, role, schema string) {
				testdb.MustExec(t, su, `GRANT USAGE ON SCHEMA `+pgx.Identifier{schema}.Sanitize()+` TO `+pgx.Identifier{role}.Sanitize())
				testdb.MustExec(t, su, `GRANT SELECT ON ALL TABLES IN SCHEMA `+pgx.Identifier{schema}.Sanitize()+` TO `+pgx.Identifier{role}.Sanitize())
			},
			writeCode: "42501", writeText: "permission denied for table attesto_",
		},
		{
			name: "no privilege on the tables",
			grant: func(t *testing.T, su *gorm.DB, role, schema string) {
				testdb.MustExec(t, su, `GRANT USAGE ON SCHEMA `+pgx.Identifier{schema}.Sanitize()+` TO `+pgx.Identifier{role}.Sanitize())
			},
			readCode: "42501", writeCode: "42501", writeText: "permission denied for table attesto_",
		},
		{
			// Without USAGE the schema is skipped in search_path: the
			// tables are not found at all. Still an error, never a miss.
			name:     "no privilege on the schema",
			grant:    func(*testing.T, *gorm.DB, string, string) {},
			readCode: "42P01", writeCode: "42P01", writeText: `relation "attesto_`,
		},
		{
			// All privileges, but every transaction read-only, as on a hot
			// standby or a replica behind a read-only login.
			name: "read-only sessions",
			grant: func(t *testing.T, su *gorm.DB, role, schema string) {
				testdb.MustExec(t, su, `GRANT USAGE ON SCHEMA `+pgx.Identifier{schema}.Sanitize()+` TO `+pgx.Identifier{role}.Sanitize())
				testdb.MustExec(t, su, `GRANT ALL ON ALL TABLES IN SCHEMA `+pgx.Identifier{schema}.Sanitize()+` TO `+pgx.Identifier{role}.Sanitize())
				testdb.MustExec(t, su, `ALTER ROLE `+pgx.Identifier{role}.Sanitize()+` SET default_transaction_read_only = on`)
			},
			writeCode: "25006", writeText: "read-only transaction",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			role, password := newRole(t)
			schema := testdb.Schema(t)
			su := testdb.Open(t, schema, 2)
			testdb.CreateTables(t, su)
			owner, ownerPAR := stores(t, su, nil)
			if err := owner.Put(ctx, cimdURL, doc, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := ownerPAR.Put(ctx, uri, doc, 5*time.Minute); err != nil {
				t.Fatal(err)
			}
			tc.grant(t, su, role, schema)
			db := openURL(t, sharedURL(t, url.UserPassword(role, password), url.Values{"search_path": {schema}}), 2)
			c, p := stores(t, db, nil)

			check := func(op, code, text string, err error) {
				t.Helper()
				var pgErr *pgconn.PgError
				switch {
				case err == nil:
					t.Errorf("%s as %s: no error, want SQLSTATE %s", op, tc.name, code)
				case !errors.As(err, &pgErr) || pgErr.Code != code:
					t.Errorf("%s as %s: %v, want SQLSTATE %s", op, tc.name, err, code)
				case !strings.Contains(err.Error(), text) || !strings.HasPrefix(err.Error(), "repo: "):
					t.Errorf("%s as %s: %q, want a repo error saying %q", op, tc.name, err, text)
				}
			}
			writes := map[string]func() error{
				"CIMD Put":       func() error { return c.Put(ctx, cimdURL, map[string]any{"other": true}, time.Now().Add(2*time.Hour)) },
				"CIMD Put (new)": func() error { return c.Put(ctx, cimdURL+"?new", doc, time.Now().Add(time.Hour)) },
				"CIMD Delete":    func() error { return c.Delete(ctx, cimdURL) },
				"CIMD DeleteAll": func() error { return c.DeleteAll(ctx) },
				"PAR Put":        func() error { return p.Put(ctx, uri+"-new", doc, time.Minute) },
				"PAR Take": func() error {
					_, found, err := p.Take(ctx, uri)
					if found {
						return errors.New("found: the request was consumed")
					}
					return err
				},
				"PAR TakeForClient": func() error {
					_, found, err := p.TakeForClient(ctx, uri, cimdURL)
					if found {
						return errors.New("found: the request was consumed")
					}
					return err
				},
			}
			for op, write := range writes {
				err := write()
				check(op, tc.writeCode, tc.writeText, err)
				if op == "PAR Take" {
					t.Logf("%s: %s: %v", tc.name, op, err)
				}
			}
			reads := map[string]func() (map[string]any, bool, error){
				"CIMD Get":           func() (map[string]any, bool, error) { return c.Get(ctx, cimdURL) },
				"PAR Fetch":          func() (map[string]any, bool, error) { return p.Fetch(ctx, uri) },
				"PAR FetchForClient": func() (map[string]any, bool, error) { return p.FetchForClient(ctx, uri, cimdURL) },
			}
			for op, read := range reads {
				got, found, err := read()
				if tc.readCode != "" {
					if found {
						t.Errorf("%s as %s: found, want SQLSTATE %s", op, tc.name, tc.readCode)
					}
					check(op, tc.readCode, "", err)
					continue
				}
				if err != nil || !found || !sameJSON(got, doc) {
					t.Errorf("%s as %s = %v, %v, %v; want the stored document", op, tc.name, got, found, err)
				}
			}
			// Nothing changed: the seeded rows are intact, nothing new.
			if n := rawCount(t, su, cimdTable); n != 1 {
				t.Errorf("%s holds %d rows after the refused writes, want 1", cimdTable, n)
			}
			if n := rawCount(t, su, parTable); n != 1 {
				t.Errorf("%s holds %d rows after the refused writes, want 1", parTable, n)
			}
			if got, _, found := rawDocument(t, su, cimdTable, cimdURL); !found || !sameJSON(got, doc) {
				t.Errorf("the seeded document reads %v after the refused writes", got)
			}
		})
	}
}

// rolePassword is the password of the test roles, for servers that do not
// trust local logins. A constant: the statements that set it are SQL text.
const rolePassword = "gormstore-reliability-test"

// newRole creates a login role with a random name, dropped (with its
// privileges) when t ends.
func newRole(t *testing.T) (role, password string) {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	role = "gormstore_" + hex.EncodeToString(b[:])
	// Roles are per server, not per schema: a pool of the test's own.
	admin := openURL(t, testdb.URL(), 1)
	testdb.MustExec(t, admin, `CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN PASSWORD '`+rolePassword+`'`)
	t.Cleanup(func() {
		// Registered before the schema's cleanup, so it runs after the
		// schema (and the grants on it) are gone.
		if err := admin.Exec(`DROP OWNED BY ` + pgx.Identifier{role}.Sanitize()).Error; err != nil {
			t.Errorf("drop owned by %s: %v", role, err)
		}
		if err := admin.Exec(`DROP ROLE ` + pgx.Identifier{role}.Sanitize()).Error; err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role, rolePassword
}
