package repotest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/repo"
)

// ReplayFactory returns a new, empty replay store that reads the time
// from now.
type ReplayFactory func(t *testing.T, now func() time.Time) repo.ReplayStore

// RunReplayStore runs the conformance suite of a ReplayStore against the
// stores newStore returns. Stores are shared by every node, so two stores
// from newStore must not share state: each test makes its own.
func RunReplayStore(t *testing.T, newStore ReplayFactory, opts *Options) {
	maxKey := opts.maxKeyBytes()
	setup := func(t *testing.T) (repo.ReplayStore, *Clock) {
		t.Parallel()
		clock := NewClock(Epoch)
		return newStore(t, clock.Now), clock
	}
	ctx := context.Background()
	const jti = "3f5e8a1c-jti"
	fresh := func(t *testing.T, what string, s repo.ReplayStore, jti string, exp time.Time, want bool) {
		t.Helper()
		got, err := s.CheckAndRecord(ctx, jti, exp)
		mustOK(t, what, err)
		if got != want {
			t.Fatalf("%s: CheckAndRecord(%.60q) = %v, want %v", what, jti, got, want)
		}
	}
	seen := func(t *testing.T, what string, s repo.ReplayStore, jti string, want bool) {
		t.Helper()
		got, err := s.Seen(ctx, jti)
		mustOK(t, what, err)
		if got != want {
			t.Fatalf("%s: Seen(%.60q) = %v, want %v", what, jti, got, want)
		}
	}

	t.Run("FirstPresentationIsFreshTheNextAReplay", func(t *testing.T) {
		s, clock := setup(t)
		seen(t, "before", s, jti, false)
		fresh(t, "first", s, jti, clock.Now().Add(time.Minute), true)
		seen(t, "after", s, jti, true)
		fresh(t, "second", s, jti, clock.Now().Add(time.Minute), false)
		fresh(t, "a replay with a later expiry", s, jti, clock.Now().Add(time.Hour), false)
	})

	t.Run("ForgottenOnlyAfterExpiry", func(t *testing.T) {
		s, clock := setup(t)
		fresh(t, "first", s, jti, clock.Now().Add(time.Minute), true)
		clock.Advance(time.Minute - time.Microsecond)
		seen(t, "a microsecond before expiry", s, jti, true)
		fresh(t, "a microsecond before expiry", s, jti, clock.Now().Add(time.Minute), false)
		clock.Advance(time.Microsecond)
		seen(t, "at expiry", s, jti, false)
		fresh(t, "at expiry, again", s, jti, clock.Now().Add(time.Minute), true)
		fresh(t, "then a replay of that", s, jti, clock.Now().Add(time.Minute), false)
	})

	t.Run("JTIsAreByteExact", func(t *testing.T) {
		s, clock := setup(t)
		long := longKey("jti-", maxKey)
		jtis := []string{"abc", "ABC", "abc ", "%", "_", long, long[:len(long)-1] + "j"}
		for _, j := range jtis {
			fresh(t, "first", s, j, clock.Now().Add(time.Minute), true)
		}
		for _, j := range jtis {
			fresh(t, "again", s, j, clock.Now().Add(time.Minute), false)
		}
		seen(t, "a wildcard's match", s, "a", false)
	})

	t.Run("RejectsBadInputAndRecordsNothing", func(t *testing.T) {
		s, clock := setup(t)
		exp := clock.Now().Add(time.Minute)
		for _, tc := range []struct {
			name, jti, field string
			exp              time.Time
		}{
			{"empty jti", "", "jti", exp},
			{"jti one byte too long", longKey("jti-", maxKey) + "k", "jti", exp},
			{"invalid UTF-8", "a\xffb", "jti", exp},
			{"NUL", "a\x00b", "jti", exp},
			{"zero expiry", jti, "expires_at", time.Time{}},
			{"expired", jti, "expires_at", clock.Now()},
			{"expired long ago", jti, "expires_at", clock.Now().Add(-time.Hour)},
		} {
			got, err := s.CheckAndRecord(ctx, tc.jti, tc.exp)
			mustInvalid(t, tc.name, err, tc.field)
			if got {
				t.Errorf("%s: reported fresh along with the error", tc.name)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s: %v does not name %s", tc.name, err, tc.field)
			}
		}
		seen(t, "after the refusals", s, jti, false)
		fresh(t, "a valid presentation afterwards", s, jti, exp, true)
	})

	t.Run("ConcurrentPresentationsHaveExactlyOneFresh", func(t *testing.T) {
		s, clock := setup(t)
		const jtis, presenters = 20, 16
		var wins [jtis]atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range jtis {
			for range presenters {
				wg.Go(func() {
					<-start
					ok, err := s.CheckAndRecord(ctx, fmt.Sprintf("jti-%d", i), clock.Now().Add(time.Minute))
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins[i].Add(1)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		for i := range jtis {
			if n := wins[i].Load(); n != 1 {
				t.Errorf("jti-%d was fresh %d times out of %d presentations, want once", i, n, presenters)
			}
		}
	})
}
