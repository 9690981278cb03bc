package repotest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/attesto/gormstore/changesets"
)

// lookup is the shape of Get, Fetch and Take.
type lookup func(ctx context.Context, key string) (map[string]any, bool, error)

func mustHit(t *testing.T, op string, get lookup, key string, want map[string]any) map[string]any {
	t.Helper()
	got, found, err := get(context.Background(), key)
	if err != nil {
		t.Fatalf("%s(%.60q): unexpected error: %v", op, key, err)
	}
	if !found {
		t.Fatalf("%s(%.60q): miss, want a hit", op, key)
	}
	if want != nil && !JSONEqual(got, want) {
		t.Fatalf("%s(%.60q) = %s\nwant %s", op, key, show(got), show(want))
	}
	return got
}

func mustMiss(t *testing.T, op string, get lookup, key string) {
	t.Helper()
	got, found, err := get(context.Background(), key)
	if err != nil {
		t.Fatalf("%s(%.60q): unexpected error: %v", op, key, err)
	}
	if found || got != nil {
		t.Fatalf("%s(%.60q) = %s, %v; want a miss", op, key, show(got), found)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// mustInvalid checks that err is a changeset error naming field.
func mustInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want an invalid %s", what, field)
	}
	if !errors.Is(err, changesets.ErrInvalid) {
		t.Fatalf("%s: error %v does not match changesets.ErrInvalid", what, err)
	}
	var cerr *changesets.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("%s: error %v is not a *changesets.Error", what, err)
	}
	if len(cerr.On(field)) == 0 {
		t.Fatalf("%s: error %q does not name %s", what, err, field)
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
