package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/attesto/gormstore/internal/migrate"
)

func (c *cli) migrate(ctx context.Context, args []string) error {
	flags := newFlagSet("migrate", "[--dsn DSN] [--print]",
		`Creates the stores' tables and their indexes where they are missing, as the
library's AutoMigrate does: it never alters or drops anything, so it is safe to
run again, and concurrent runs wait for each other (an advisory lock on
PostgreSQL, GET_LOCK on MySQL/MariaDB, BEGIN IMMEDIATE on SQLite).

--print writes the SQL of the DSN's database instead (the up migrations, in
order, as golang-migrate, Atlas or goose would run them), without connecting.
`)
	printSQL := flags.Bool("print", false, "print the schema's SQL for the database's dialect instead of running it")
	if err := flags.parse(c.stdout, args); err != nil {
		return err
	}
	t, err := c.target(*flags.dsn)
	if err != nil {
		return err
	}
	if *printSQL {
		return c.printSchema(t)
	}

	ctx, stop := c.interruptible(ctx)
	defer stop()
	db, err := open(ctx, t, mayCreate, 2)
	if err != nil {
		return err
	}
	defer closeDB(db)
	before, err := missingTables(ctx, db)
	if err != nil {
		return err
	}
	if err := migrate.Run(ctx, db); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	var rows [][]string
	for _, name := range tables {
		state := "present"
		if slices.Contains(before, name) {
			state = "created"
		}
		rows = append(rows, []string{name, state})
	}
	writeTable(c.stdout, rows)
	fmt.Fprintf(c.stdout, "schema up to date in %s\n", t)
	return nil
}

// printSchema writes the up migrations of t's dialect.
func (c *cli) printSchema(t target) error {
	files := migrate.For(t.kind)
	if files == nil {
		return fmt.Errorf("no migration for %s", t)
	}
	sql, err := migrate.Up(files)
	if err != nil {
		return fmt.Errorf("read the up migrations: %w", err)
	}
	_, err = c.stdout.Write(sql)
	return err
}
