package testdb

import (
	"context"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Statement is one SQL statement GORM ran, as its logger saw it.
type Statement struct {
	Query string
	Rows  int64
	Err   error
}

// Recorder is a GORM logger that keeps every statement run through it: an
// observer of what reached the database that does not rely on the code
// under test's own account. It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	stmts []Statement
}

func (r *Recorder) LogMode(logger.LogLevel) logger.Interface { return r }
func (r *Recorder) Info(context.Context, string, ...any)     {}
func (r *Recorder) Warn(context.Context, string, ...any)     {}
func (r *Recorder) Error(context.Context, string, ...any)    {}

func (r *Recorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), err error) {
	sql, rows := fc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, Statement{Query: sql, Rows: rows, Err: err})
}

// Statements returns the statements recorded so far, in order.
func (r *Recorder) Statements() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Statement(nil), r.stmts...)
}

// On returns db with r as its logger; db itself is not changed.
func (r *Recorder) On(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{Logger: r})
}
