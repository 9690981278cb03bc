package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The listener's waits between failed connections: the first, doubled on
// each failure up to the last. A connection that listened starts over.
const (
	nearRetryFirst = 50 * time.Millisecond
	nearRetryMax   = 5 * time.Second
)

// Start runs the listener, if Listen is set, until Stop or until ctx
// ends: it connects, LISTENs on Channel and drops the entry of every URL
// another node announces. It returns at once, without waiting for the
// connection (Stats().Listening says when it listens); until then, and
// whenever the connection is lost, entries live at most Lifetime. Without
// Listen there is nothing to run and Start returns nil. A second Start is
// a no-op; a Start after Stop is an error and starts nothing.
func (n *NearCache) Start(ctx context.Context) error {
	if n == nil || n.inner == nil {
		return fmt.Errorf("repo: near cache: start: %w", ErrNoDB)
	}
	n.life.Lock()
	defer n.life.Unlock()
	switch {
	case n.stopped:
		return errors.New("repo: near cache: start: the near cache was stopped")
	case n.started || n.listen == nil:
		return nil
	}
	n.started = true
	ctx, n.cancel = context.WithCancel(ctx)
	n.done = make(chan struct{})
	go n.run(ctx, n.done)
	return nil
}

// Stop ends the listener and waits for it: its connection is closed and
// every entry filled under NotifiedLifetime is dropped, since no
// notification will evict it any more. The cache itself goes on serving,
// with entries bounded by Lifetime. If ctx ends first, Stop returns its
// error; the listener still ends on its own. Stop may be called any
// number of times, also before Start (the listener then never starts).
func (n *NearCache) Stop(ctx context.Context) error {
	if n == nil {
		return nil
	}
	n.life.Lock()
	n.stopped = true
	cancel, done := n.cancel, n.done
	n.life.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("repo: near cache: stop: %w", context.Cause(ctx))
	}
}

// run keeps a listening connection until ctx ends.
func (n *NearCache) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	wait := nearRetryFirst
	for {
		listened, err := n.session(ctx)
		n.setListening(false)
		if ctx.Err() != nil {
			return
		}
		if listened {
			wait = nearRetryFirst
		}
		n.logger.Warn("repo: near cache: listener not connected; entries live at most Lifetime until it is",
			"channel", n.channel, "error", err, "retry_in", wait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		wait = min(2*wait, nearRetryMax)
	}
}

// session connects, listens and drops the announced entries until the
// connection fails or ctx ends. It reports whether it got to listen.
func (n *NearCache) session(ctx context.Context) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, n.check)
	conn, err := n.listen(cctx)
	if err == nil && conn == nil {
		err = errors.New("the Listen function returned no connection")
	}
	if err != nil {
		cancel()
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, closeCancel := context.WithTimeout(context.WithoutCancel(ctx), n.check)
		conn.Close(closeCtx)
		closeCancel()
	}()
	_, err = conn.Exec(cctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize())
	cancel()
	if err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	// Whatever was announced while this node was not listening is lost:
	// start over from the shared cache.
	n.setListening(true)
	n.connects.Add(1)
	n.logger.Info("repo: near cache: listening", "channel", n.channel, "pid", conn.PgConn().PID())
	for {
		wctx, wcancel := context.WithTimeout(ctx, n.check)
		note, err := conn.WaitForNotification(wctx)
		wcancel()
		switch {
		case err == nil:
			n.notifications.Add(1)
			n.evict(note.Payload)
			if n.notified != nil {
				n.notified(note.Payload)
			}
			continue
		case ctx.Err() != nil:
			return true, nil
		case !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed():
			return true, fmt.Errorf("wait for notifications: %w", err)
		}
		// Quiet for a whole interval: make sure the connection is alive,
		// since a silently broken one would never deliver a notification.
		pctx, pcancel := context.WithTimeout(ctx, n.check)
		err = conn.Ping(pctx)
		pcancel()
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return true, fmt.Errorf("ping: %w", err)
		}
	}
}

// setListening records the listener's state and clears the cache: on
// connecting, since notifications may have been missed; on losing the
// connection, since the entries filled under NotifiedLifetime are no
// longer evicted by anything.
func (n *NearCache) setListening(v bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !v && !n.listening {
		return
	}
	n.listening = v
	n.clearLocked()
}
