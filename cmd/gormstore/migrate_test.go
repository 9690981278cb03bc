package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/internal/migrate"
	"github.com/attesto/gormstore/models"
)

// TestMigrate: migrate creates both tables, says so, and a second run
// finds them and changes nothing.
func TestMigrate(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, db *gorm.DB) {
		inv := newInvocation(t)
		r := inv.mustRun(t, "migrate", "--dsn", dsn)
		for _, table := range tables {
			if f := tableLine(t, r.stdout, table); f[1] != "created" {
				t.Errorf("first migrate: %s is %q, want created\n%s", table, f[1], r.stdout)
			}
		}
		for _, model := range models.All() {
			if !db.Migrator().HasTable(model) {
				t.Errorf("no table for %T after migrate", model)
			}
		}
		if !db.Migrator().HasIndex(&models.PushedAuthorizationRequest{}, "attesto_pushed_authorization_requests_expires_at_index") {
			t.Error("no expires_at index after migrate")
		}
		seed(t, db, rowCounts{liveCIMD: 2, livePAR: 1})

		r = inv.mustRun(t, "migrate", "--dsn", dsn)
		for _, table := range tables {
			if f := tableLine(t, r.stdout, table); f[1] != "present" {
				t.Errorf("second migrate: %s is %q, want present\n%s", table, f[1], r.stdout)
			}
		}
		var n int64
		if err := db.Model(&models.ClientIDMetadata{}).Count(&n).Error; err != nil || n != 2 {
			t.Errorf("after the second migrate: %d documents (%v), want the 2 seeded", n, err)
		}
	})
}

// TestMigratePrint: --print writes the up migration of the DSN's dialect
// and touches no database: the servers' DSNs point at a closed port.
func TestMigratePrint(t *testing.T) {
	t.Parallel()
	read := func(fsys fs.FS) string {
		b, err := migrate.Up(fsys)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"PostgreSQL", []string{"--dsn", "postgres://postgres@127.0.0.1:1/test"}, read(migrate.Postgres)},
		{"PostgreSQL keyword/value", []string{"--dsn", "host=127.0.0.1 port=1 dbname=test"}, read(migrate.Postgres)},
		{"MySQL", []string{"--dsn", "root@tcp(127.0.0.1:1)/test?parseTime=True"}, read(migrate.MySQL)},
		{"MySQL URL", []string{"--dsn", "mysql://root@127.0.0.1:1/test"}, read(migrate.MySQL)},
		{"SQLite file", []string{"--dsn", "schema.db"}, read(migrate.SQLite)},
		{"default", nil, read(migrate.SQLite)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := newInvocation(t)
			r := inv.mustRun(t, append([]string{"migrate", "--print"}, tt.args...)...)
			if r.stdout != tt.want {
				t.Fatalf("stdout is not the up migrations of the dialect:\n%s", r.stdout)
			}
			if !strings.Contains(r.stdout, "CREATE TABLE IF NOT EXISTS attesto_pushed_authorization_requests") || !strings.Contains(r.stdout, "CREATE TABLE IF NOT EXISTS dpop_replays") {
				t.Fatalf("not the schema:\n%s", r.stdout)
			}
			entries, err := os.ReadDir(inv.dir)
			if err != nil || len(entries) > 0 {
				t.Fatalf("--print left files in %s: %v %v", filepath.Base(inv.dir), entries, err)
			}
		})
	}
}

// TestMissingTables: the commands that need the tables say to migrate.
func TestMissingTables(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, dsn string, _ *gorm.DB) {
		for _, args := range [][]string{
			{"stats"}, {"sweep"}, {"sweep", "--every", "1s"}, {"bench", "--duration", "1s"},
		} {
			r := newInvocation(t).run(t, append(args, "--dsn", dsn)...)
			want := "tables attesto_client_id_metadata, attesto_pushed_authorization_requests and dpop_replays do not exist"
			if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "run `gormstore migrate` first") {
				t.Errorf("%s: want exit 1 and the advice to migrate; %s", strings.Join(args, " "), r)
			}
			if args[0] == "bench" && !strings.Contains(r.stderr, "or pass --migrate") {
				t.Errorf("bench does not mention --migrate; %s", r)
			}
		}
	})
}
