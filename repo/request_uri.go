package repo

import (
	"crypto/rand"
	"encoding/base64"
)

// RequestURIPrefix is the URN namespace of pushed request references
// (RFC 9126 section 2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// requestURIEntropy is 256 bits: a reference must not be guessable
// (RFC 9126 section 2.2, RFC 6749 section 10.10), and at this size
// collisions are out of the question too.
const requestURIEntropy = 32

// NewRequestURI returns a fresh request_uri: RequestURIPrefix followed by
// 256 bits from crypto/rand in unpadded base64url (43 characters), safe
// in a URL without escaping.
func NewRequestURI() string {
	var b [requestURIEntropy]byte
	// crypto/rand.Read never returns an error since Go 1.24: it crashes
	// the program rather than hand out predictable bytes.
	_, _ = rand.Read(b[:])
	return RequestURIPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
