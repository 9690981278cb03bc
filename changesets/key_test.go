package changesets_test

import (
	"strings"
	"testing"

	"github.com/attesto/gormstore/changesets"
)

func TestValidKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"empty", "", false},
		{"one byte", "a", true},
		{"normal URL", cimdURL, true},
		{"request_uri", requestURI, true},
		{"2048 bytes", keyOfLen(2048), true},
		{"2049 bytes", keyOfLen(2049), false},
		{"2048 bytes ending in a 2-byte rune", keyOfLen(2046) + "é", true},
		{"2049 bytes ending in a 2-byte rune", keyOfLen(2047) + "é", false},
		{"far too long", strings.Repeat("a", 1<<16), false},
		{"non-ASCII text", "https://client.example/é/😀", true},
		{"U+FFFD as text", "https://client.example/\uFFFD", true},
		{"invalid UTF-8", "https://client.example/\xff\xfe", false},
		{"truncated rune", "https://client.example/\xc3", false},
		{"UTF-8-encoded surrogate", "https://client.example/\xed\xa0\x80", false},
		{"NUL in the middle", "https://client.example/a\x00b", false},
		{"only NUL", "\x00", false},
		{"NUL at the end", cimdURL + "\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := changesets.ValidKey(tt.key); got != tt.want {
				t.Errorf("ValidKey(%.40q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestCastKey(t *testing.T) {
	t.Parallel()
	const (
		blank   = "can't be blank"
		tooLong = "should be at most 2048 byte(s)"
		notText = "must be valid UTF-8 without NUL bytes"
	)
	tests := []struct {
		name string
		key  string
		want string // message on the key field; "" if accepted
	}{
		{"empty", "", blank},
		{"one byte", "a", ""},
		{"2048 bytes", keyOfLen(2048), ""},
		{"2049 bytes", keyOfLen(2049), tooLong},
		{"2049 bytes with a NUL", keyOfLen(2048) + "\x00", tooLong},
		{"invalid UTF-8", cimdURL + "\xff", notText},
		{"UTF-8-encoded surrogate", cimdURL + "\xed\xa0\x80", notText},
		{"NUL", "https://client.example/a\x00b", notText},
		{"non-ASCII text", "https://client.example/é/😀", ""},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				in.Key = tt.key
				got, err := k.cast(in, changesets.Limits{})
				if tt.want != "" {
					wantInvalid(t, err, changesets.FieldError{Field: k.keyField, Message: tt.want})
					return
				}
				if err != nil {
					t.Fatalf("Cast: %v", err)
				}
				if got.Key != tt.key {
					t.Errorf("row key = %.40q, want %.40q", got.Key, tt.key)
				}
			})
		}
	}
}

// TestValidKeyAgreesWithCast checks that a store's cheap lookup filter
// refuses exactly the keys Cast would never have stored.
func TestValidKeyAgreesWithCast(t *testing.T) {
	t.Parallel()
	keys := []string{
		"", "a", cimdURL, requestURI, keyOfLen(2047), keyOfLen(2048), keyOfLen(2049),
		keyOfLen(2046) + "é", keyOfLen(2047) + "é", "\xff", "a\x00", "\x00", "é", "\uFFFD",
	}
	for _, k := range kinds() {
		for _, key := range keys {
			in := validInput(k)
			in.Key = key
			_, err := k.cast(in, changesets.Limits{})
			if stored := err == nil; stored != changesets.ValidKey(key) {
				t.Errorf("%s: Cast(%.40q) error %v, but ValidKey = %v", k.name, key, err, changesets.ValidKey(key))
			}
		}
	}
}
