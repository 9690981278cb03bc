package repo_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/attesto/gormstore/repo"
)

func TestNewRequestURI(t *testing.T) {
	t.Parallel()
	const draws = 1_000_000
	// 32 bytes in unpadded base64url are 43 characters of [A-Za-z0-9_-].
	shape := regexp.MustCompile(`^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$`)
	seen := make(map[string]struct{}, draws)
	var alphabet [256]int
	for range draws {
		uri := repo.NewRequestURI()
		if len(seen) < 1000 && !shape.MatchString(uri) {
			t.Fatalf("NewRequestURI() = %q, want the prefix and 43 base64url characters", uri)
		}
		if _, dup := seen[uri]; dup {
			t.Fatalf("NewRequestURI() repeated %q", uri)
		}
		seen[uri] = struct{}{}
		for _, c := range []byte(strings.TrimPrefix(uri, repo.RequestURIPrefix)) {
			alphabet[c]++
		}
	}
	// Every draw checked for length and alphabet, the cheap way.
	total, used := 0, 0
	for c, n := range alphabet {
		if n == 0 {
			continue
		}
		used++
		total += n
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(c)) {
			t.Errorf("character %q outside base64url appeared %d times", rune(c), n)
		}
	}
	if total != draws*43 {
		t.Errorf("%d reference characters in %d draws, want 43 each", total, draws)
	}
	// 43 million uniform draws from 64 symbols use all of them.
	if used != 64 {
		t.Errorf("%d distinct characters used, want all 64 of base64url", used)
	}
}
