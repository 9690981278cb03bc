package bench

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestContendersAgree runs every contender of the CIMD cache and the PAR
// store, on PostgreSQL and on MariaDB, through the same calls and checks
// that each gives the store's answers: a Put document reads back equal, a
// second Put of a CIMD url replaces it, a PAR request is fetched, taken
// once, and then gone. A contender that measured a different operation
// than the store's would fail here, not only skew a ratio.
func TestContendersAgree(t *testing.T) {
	t.Parallel()
	d := docs(t)
	replaced := map[string]any{"client_id": "https://app.example/replaced", "client_name": "Replaced"}

	type contenders struct {
		cimd []named[cimdStore]
		par  []named[parStore]
	}
	for _, db := range []struct {
		name string
		open func(t *testing.T) contenders
	}{
		{"PostgreSQL", func(t *testing.T) contenders {
			e, closeEnv := openEnv(t, "agree")
			t.Cleanup(closeEnv)
			return contenders{cimdContenders(e), parContenders(e)}
		}},
		{"MariaDB", func(t *testing.T) contenders {
			e := openMariaDB(t)
			return contenders{
				[]named[cimdStore]{
					{"gormstore", e.cache},
					{"go-sql-driver", mysqlCIMD{e.sql}},
					{"internal-path", internalCIMD{newInternalDB(e.gorm), myInternalStatements, mysqlTime}},
				},
				[]named[parStore]{
					{"gormstore", e.par},
					{"gormstore-two-step", e.parTwoStep},
					{"go-sql-driver", mysqlPAR{db: e.sql}},
					{"go-sql-driver-two-step", mysqlPAR{db: e.sql, twoStep: true}},
					{"internal-path", internalPAR{newInternalDB(e.gorm), myInternalStatements, mysqlTime}},
				},
			}
		}},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cs := db.open(t)
			for _, c := range cs.cimd {
				url := "https://agree-" + c.name + "-" + runID() + ".example/client"
				if _, ok, err := c.store.Get(ctx, url); err != nil || ok {
					t.Fatalf("%s: Get before Put = %v, %v; want a miss", c.name, ok, err)
				}
				for _, doc := range []map[string]any{d.cimd, replaced} {
					if err := c.store.Put(ctx, url, doc, time.Now().Add(time.Hour)); err != nil {
						t.Fatalf("%s: Put: %v", c.name, err)
					}
					got, ok, err := c.store.Get(ctx, url)
					if err != nil || !ok || !reflect.DeepEqual(got, doc) {
						t.Fatalf("%s: Get after Put = %v, %v, %v; want %v", c.name, got, ok, err, doc)
					}
				}
			}
			for _, p := range cs.par {
				uri := "urn:ietf:params:oauth:request_uri:agree-" + p.name + "-" + runID()
				if err := p.store.Put(ctx, uri, d.par, time.Minute); err != nil {
					t.Fatalf("%s: Put: %v", p.name, err)
				}
				if err := p.store.Put(ctx, uri, d.par, time.Minute); err == nil {
					t.Fatalf("%s: a second Put of %s succeeded; want an error", p.name, uri)
				}
				got, ok, err := p.store.Fetch(ctx, uri)
				if err != nil || !ok || !reflect.DeepEqual(got, d.par) {
					t.Fatalf("%s: Fetch = %v, %v, %v; want %v", p.name, got, ok, err, d.par)
				}
				got, ok, err = p.store.Take(ctx, uri)
				if err != nil || !ok || !reflect.DeepEqual(got, d.par) {
					t.Fatalf("%s: Take = %v, %v, %v; want %v", p.name, got, ok, err, d.par)
				}
				for _, op := range []func(context.Context, string) (map[string]any, bool, error){p.store.Take, p.store.Fetch} {
					if _, ok, err := op(ctx, uri); err != nil || ok {
						t.Fatalf("%s: after Take, a lookup = %v, %v; want a miss", p.name, ok, err)
					}
				}
			}
		})
	}
}

// sqlSeen records the text of every statement GORM's row and raw chains
// run on a database: what reached the driver, placeholders and all.
type sqlSeen struct {
	mu   sync.Mutex
	sent []string
}

func (s *sqlSeen) record(tx *gorm.DB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, tx.Statement.SQL.String())
}

func (s *sqlSeen) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}

// watch registers s after GORM's row and raw callbacks of db, the chains
// the stores' Rows and Exec run.
func (s *sqlSeen) watch(t *testing.T, db *gorm.DB) {
	t.Helper()
	if err := db.Callback().Row().After("gorm:row").Register("bench:record", s.record); err != nil {
		t.Fatal(err)
	}
	if err := db.Callback().Raw().After("gorm:raw").Register("bench:record", s.record); err != nil {
		t.Fatal(err)
	}
}

// TestMariaDBStatementsAreTheStores checks that the statements
// BenchmarkRatioMariaDB sends by hand are exactly the ones the stores send
// on MariaDB, with DELETE ... RETURNING and, opened with
// DisableWithReturning, in two steps.
func TestMariaDBStatementsAreTheStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := openMariaDB(t)
	d := docs(t)
	seen, seenTwoStep := &sqlSeen{}, &sqlSeen{}
	seen.watch(t, e.gorm)
	seenTwoStep.watch(t, e.gormTwoStep)
	uri := "urn:ietf:params:oauth:request_uri:statements-" + runID()
	uriTwoStep := uri + "-two-step"
	for _, c := range []struct {
		op   string
		seen *sqlSeen
		call func() error
		want []string
	}{
		{"CIMD Put", seen, func() error {
			return e.cache.Put(ctx, "https://statements.example/client", d.cimd, time.Now().Add(time.Hour))
		}, []string{myCIMDPutSQL}},
		{"CIMD Get", seen, func() error {
			_, _, err := e.cache.Get(ctx, "https://statements.example/client")
			return err
		}, []string{myCIMDGetSQL}},
		{"PAR Put", seen, func() error { return e.par.Put(ctx, uri, d.par, time.Minute) }, []string{myPARPutSQL}},
		{"PAR Fetch", seen, func() error {
			_, _, err := e.par.Fetch(ctx, uri)
			return err
		}, []string{myPARFetchSQL}},
		{"PAR Take", seen, func() error {
			_, _, err := e.par.Take(ctx, uri)
			return err
		}, []string{myPARTakeSQL}},
		{"PAR Put (DisableWithReturning)", seenTwoStep, func() error { return e.parTwoStep.Put(ctx, uriTwoStep, d.par, time.Minute) }, []string{myPARPutSQL}},
		{"PAR Take (DisableWithReturning)", seenTwoStep, func() error {
			_, ok, err := e.parTwoStep.Take(ctx, uriTwoStep)
			if err == nil && !ok {
				t.Errorf("PAR Take (DisableWithReturning) missed %s", uriTwoStep)
			}
			return err
		}, []string{myPARFetchSQL, myPARTakeDeleteSQL}},
	} {
		c.seen.take()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		if got := c.seen.take(); !slices.Equal(got, c.want) {
			t.Errorf("%s sent\n\t%q\nwant docs/sql.md's\n\t%q", c.op, got, c.want)
		}
	}
}
