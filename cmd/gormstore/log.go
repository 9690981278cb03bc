package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// sweeperLogger is the Logger of the command's sweepers. The command
// reports every pass itself, from OnSweep: passes that deleted rows
// (the sweeper's Info), failed passes (its Error) and the rest (Debug).
// What it would miss is the sweeper's Warn, a sweep lock it could not
// release, so that is all this logger writes: one line on w, prefixed as
// every error of the command is.
func sweeperLogger(w io.Writer) *slog.Logger {
	return slog.New(&warnHandler{w: w, mu: new(sync.Mutex)})
}

type warnHandler struct {
	w     io.Writer
	mu    *sync.Mutex
	attrs []slog.Attr
}

func (h *warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l == slog.LevelWarn }

func (h *warnHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("gormstore: ")
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		b.WriteString(" ")
		b.WriteString(a.String())
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteString("\n")
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *warnHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &warnHandler{w: h.w, mu: h.mu, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)}
}

// WithGroup flattens: the sweeper logs no groups of its own but the
// deleted counts, which it logs at Info.
func (h *warnHandler) WithGroup(string) slog.Handler { return h }
