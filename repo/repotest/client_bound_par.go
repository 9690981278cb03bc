package repotest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/repo"
)

// ClientBoundPARFactory returns a new, empty store that reads the time
// from now.
type ClientBoundPARFactory func(t *testing.T, now func() time.Time) repo.ClientBoundPARStore

// RunClientBoundPARStore runs the conformance suite of the client-bound
// lookups (RFC 9126 section 2.2) against the stores newStore returns.
func RunClientBoundPARStore(t *testing.T, newStore ClientBoundPARFactory) {
	setup := func(t *testing.T) (repo.ClientBoundPARStore, *Clock) {
		t.Parallel()
		clock := NewClock(Epoch)
		return newStore(t, clock.Now), clock
	}
	ctx := context.Background()
	owner := pushed()["client_id"].(string)
	const intruder = "https://evil.example/client.json"
	forClient := func(s repo.ClientBoundPARStore, take bool, clientID string) lookup {
		if take {
			return func(ctx context.Context, uri string) (map[string]any, bool, error) {
				return s.TakeForClient(ctx, uri, clientID)
			}
		}
		return func(ctx context.Context, uri string) (map[string]any, bool, error) {
			return s.FetchForClient(ctx, uri, clientID)
		}
	}

	t.Run("TheOwnerResolvesItsRequest", func(t *testing.T) {
		s, _ := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), time.Minute))
		mustHit(t, "FetchForClient by the owner", forClient(s, false, owner), requestURI, pushed())
		mustHit(t, "FetchForClient again (not consumed)", forClient(s, false, owner), requestURI, pushed())
		mustHit(t, "TakeForClient by the owner", forClient(s, true, owner), requestURI, pushed())
		mustMiss(t, "TakeForClient again", forClient(s, true, owner), requestURI)
		mustMiss(t, "Fetch after the owner's take", s.Fetch, requestURI)
	})

	t.Run("AnotherClientCanNeitherReadNorBurnIt", func(t *testing.T) {
		s, _ := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), time.Minute))
		for _, other := range []string{intruder, owner + " ", owner[:len(owner)-1], "HTTPS://app.example.com/oauth/client-metadata.json", "%", ""} {
			mustMiss(t, fmt.Sprintf("FetchForClient by %q", other), forClient(s, false, other), requestURI)
			mustMiss(t, fmt.Sprintf("TakeForClient by %q", other), forClient(s, true, other), requestURI)
		}
		mustHit(t, "TakeForClient by the owner after the others' attempts", forClient(s, true, owner), requestURI, pushed())
	})

	// A client_id that is not a non-empty string binds nobody, so Put
	// refuses it (RFC 6749 section 4.1.1) rather than store a request no
	// client could ever resolve, and nobody resolves it by what it held.
	t.Run("OnlyAStringClientIDBinds", func(t *testing.T) {
		s, _ := setup(t)
		for i, tc := range refusedClientIDs() {
			uri := fmt.Sprintf("%s-client-%d", requestURI, i)
			mustInvalid(t, "Put with a client_id "+tc.name, s.Put(ctx, uri, tc.params, time.Minute), "params")
			for _, id := range []string{tc.id, "123", `["123"]`, "null", ""} {
				mustMiss(t, fmt.Sprintf("FetchForClient %q (%s)", id, tc.name), forClient(s, false, id), uri)
				mustMiss(t, fmt.Sprintf("TakeForClient %q (%s)", id, tc.name), forClient(s, true, id), uri)
			}
		}
	})

	t.Run("ClientIDsAreByteExact", func(t *testing.T) {
		s, _ := setup(t)
		stored := map[string]string{"-plain": "client-1", "-padded": "client-1 ", "-upper": "Client-1"}
		for suffix, id := range stored {
			mustOK(t, "Put for "+id, s.Put(ctx, requestURI+suffix, map[string]any{"client_id": id}, time.Minute))
		}
		for suffix, id := range stored {
			for _, other := range stored {
				if other == id {
					continue
				}
				mustMiss(t, fmt.Sprintf("FetchForClient %q of %q's request", other, id), forClient(s, false, other), requestURI+suffix)
				mustMiss(t, fmt.Sprintf("TakeForClient %q of %q's request", other, id), forClient(s, true, other), requestURI+suffix)
			}
			mustHit(t, fmt.Sprintf("TakeForClient by its owner %q", id), forClient(s, true, id), requestURI+suffix, map[string]any{"client_id": id})
		}
	})

	// The binding is the client_id as stored, a JSON string, whatever Go
	// type held it: every store binds alike, and reads it back as a string.
	t.Run("BindsWhateverGoTypeHeldTheString", func(t *testing.T) {
		s, _ := setup(t)
		type clientName string
		for _, tc := range []struct {
			name string
			held any
			id   string
		}{
			{"string", "client-plain", "client-plain"},
			{"named string type", clientName("client-named"), "client-named"},
			{"RawMessage string", json.RawMessage(` "client-raw" `), "client-raw"},
			{"RawMessage string with an escape", json.RawMessage(`"client\u002dbytes"`), "client-bytes"},
		} {
			uri := requestURI + "-" + tc.id
			mustOK(t, "Put of a client_id "+tc.name, s.Put(ctx, uri, map[string]any{"client_id": tc.held}, time.Minute))
			want := map[string]any{"client_id": tc.id}
			mustMiss(t, "FetchForClient by another ("+tc.name+")", forClient(s, false, intruder), uri)
			mustHit(t, "FetchForClient "+tc.id, forClient(s, false, tc.id), uri, want)
			mustHit(t, "TakeForClient "+tc.id, forClient(s, true, tc.id), uri, want)
			mustMiss(t, "Fetch after TakeForClient "+tc.id, s.Fetch, uri)
		}
	})

	t.Run("ExpiryStillApplies", func(t *testing.T) {
		s, clock := setup(t)
		mustOK(t, "Put", s.Put(ctx, requestURI, pushed(), time.Minute))
		clock.Advance(time.Minute)
		mustMiss(t, "FetchForClient at expiry", forClient(s, false, owner), requestURI)
		mustMiss(t, "TakeForClient at expiry", forClient(s, true, owner), requestURI)
	})

	t.Run("RacingIntrudersNeverWin", func(t *testing.T) {
		s, _ := setup(t)
		const uris = 20
		for i := range uris {
			mustOK(t, "Put", s.Put(ctx, fmt.Sprintf("%s-%d", requestURI, i), pushed(), time.Minute))
		}
		var ownerWins, intruderWins atomic.Int32
		var wg sync.WaitGroup
		for i := range uris {
			for j := range 8 {
				wg.Go(func() {
					id := intruder
					if j == 0 {
						id = owner
					}
					_, found, err := s.TakeForClient(ctx, fmt.Sprintf("%s-%d", requestURI, i), id)
					if err != nil {
						t.Error(err)
					}
					switch {
					case found && id == owner:
						ownerWins.Add(1)
					case found:
						intruderWins.Add(1)
					}
				})
			}
		}
		wg.Wait()
		if ownerWins.Load() != uris || intruderWins.Load() != 0 {
			t.Fatalf("owner took %d and intruders %d of %d requests; want all by the owner", ownerWins.Load(), intruderWins.Load(), uris)
		}
	})
}
