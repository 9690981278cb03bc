package changesets

import (
	"strings"
	"unicode/utf8"
)

// ValidKey reports whether key could have been stored as a url or
// request_uri. Stores answer a lookup with any other key as a plain miss,
// without a round trip.
func ValidKey(key string) bool {
	return key != "" && len(key) <= MaxKeyBytes && isText(key)
}

// isText reports whether PostgreSQL's text type holds s and gives it back
// byte for byte: valid UTF-8 without NUL.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
