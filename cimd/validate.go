package cimd

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/attesto/gormstore/changesets"
)

// Rule is a caller's own check of a fetched document, run after the
// draft's rules (for example: require token_endpoint_auth_method "none",
// or redirect_uris on the client_id's origin). A non-nil error rejects the
// document: Resolve returns it wrapped with ErrInvalidDocument and caches
// nothing. A Rule must not modify doc.
type Rule func(clientID string, doc map[string]any) error

// sharedSecretMethods are the token_endpoint_auth_method values draft
// section 4.1 names as based on a shared secret, which a document cannot
// establish.
var sharedSecretMethods = map[string]bool{
	"client_secret_basic": true,
	"client_secret_post":  true,
	"client_secret_jwt":   true,
}

// ValidateClientID reports whether clientID is a client identifier URL as
// draft section 3 defines it: the https scheme, a host, a path, no "." or
// ".." path segment (percent-encoded or not), no fragment, no user info. A
// query and a port are allowed. It is also stricter in two ways that keep
// one client from having two spellings: the scheme must be written in
// lower case, and the URL must be ASCII without spaces or control
// characters (percent-encode anything else). It must fit the cache's key
// (2048 bytes). A failure wraps ErrInvalidClientID.
func ValidateClientID(clientID string) error {
	if err := validateClientID(clientID); err != nil {
		return fmt.Errorf("cimd: validate client_id: %w", err)
	}
	return nil
}

func validateClientID(clientID string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidClientID, why) }
	switch {
	case clientID == "":
		return bad("is empty")
	case len(clientID) > changesets.MaxKeyBytes:
		return bad(fmt.Sprintf("is longer than %d bytes", changesets.MaxKeyBytes))
	case !isPrintableASCII(clientID):
		return bad("must be ASCII without spaces or control characters")
	case !strings.HasPrefix(clientID, "https://"):
		return bad(`must use the "https" scheme, in lower case`)
	case strings.Contains(clientID, "#"):
		return bad("must not contain a fragment")
	}
	u, err := url.Parse(clientID)
	if err != nil {
		return bad(err.Error())
	}
	switch {
	case u.User != nil:
		return bad("must not contain a username or password")
	case u.Hostname() == "":
		return bad("must contain a host")
	}
	// The path as written, between the authority and the query: url.URL's
	// Path is already decoded, and EscapedPath may re-encode it.
	rest := clientID[len("https://"):]
	i := strings.IndexAny(rest, "/?")
	if i < 0 || rest[i] != '/' {
		return bad("must contain a path")
	}
	path, _, _ := strings.Cut(rest[i:], "?")
	for _, seg := range strings.Split(path, "/") {
		// %2E is "." (RFC 3986 section 2.3), so "/%2e%2E/" is a
		// double-dot segment too.
		if dec, err := url.PathUnescape(seg); err == nil && (dec == "." || dec == "..") {
			return bad(`must not contain "." or ".." path segments`)
		}
	}
	return nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// ValidateDocument reports whether doc, fetched from clientID, is a Client
// ID Metadata Document as draft section 4.1 requires: its client_id is a
// string equal to clientID by simple string comparison (RFC 3986 section
// 6.2.1); it has neither client_secret nor client_secret_expires_at; and
// its token_endpoint_auth_method, when present, is a string naming no
// shared-secret method (client_secret_basic, client_secret_post,
// client_secret_jwt, or any other client_secret_* method). It does not
// check clientID itself: that is ValidateClientID. A failure wraps
// ErrInvalidDocument.
//
// Resolve always applies it; Config.Rules add to it and cannot remove it,
// since every rule in it is one the draft says MUST hold.
func ValidateDocument(clientID string, doc map[string]any) error {
	if err := validateDocument(clientID, doc); err != nil {
		return fmt.Errorf("cimd: validate document: %w", err)
	}
	return nil
}

func validateDocument(clientID string, doc map[string]any) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDocument}, args...)...)
	}
	if doc == nil {
		return bad("is not a JSON object")
	}
	id, ok := doc["client_id"]
	if !ok {
		return bad("has no client_id")
	}
	s, ok := id.(string)
	if !ok {
		return bad("client_id is not a string")
	}
	if s != clientID {
		return bad("client_id %q is not the document's URL %q", s, clientID)
	}
	for _, k := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := doc[k]; ok {
			return bad("must not contain %s: a document cannot establish a shared secret", k)
		}
	}
	if m, ok := doc["token_endpoint_auth_method"]; ok {
		s, ok := m.(string)
		if !ok {
			return bad("token_endpoint_auth_method is not a string")
		}
		if sharedSecretMethods[s] || strings.HasPrefix(s, "client_secret_") {
			return bad("token_endpoint_auth_method %q uses a shared secret", s)
		}
	}
	return nil
}
