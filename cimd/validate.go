package cimd

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Rule is a caller's own check of a document, run after the draft's rules
// (for example: require token_endpoint_auth_method "none", or
// redirect_uris on the client_id's origin). It runs on every fetched
// document and on every cache hit, so it should be cheap. A non-nil error
// rejects the document: Resolve returns it wrapped with ErrInvalidDocument
// and caches nothing, or evicts the cached entry. A Rule must not modify
// doc.
type Rule func(clientID string, doc map[string]any) error

// sharedSecretMethods are the token_endpoint_auth_method values draft
// section 4.1 names as based on a shared secret, which a document cannot
// establish.
var sharedSecretMethods = map[string]bool{
	"client_secret_basic": true,
	"client_secret_post":  true,
	"client_secret_jwt":   true,
}

// MaxClientIDBytes is the longest client_id accepted: the cache's key
// limit (changesets.MaxKeyBytes).
const MaxClientIDBytes = 2048

// ValidateClientID reports whether clientID is a client identifier URL as
// draft section 3 defines it: the https scheme, a host, a path, no "." or
// ".." path segment (percent-encoded or not), no fragment, no user info. A
// query and a port are allowed.
//
// It is stricter in ways that keep one client from having two spellings,
// and so from sidestepping anything keyed on its client_id (blocklists,
// rate limits, remembered consent, Delete): the URL must already be in
// RFC 3986 section 6.2.2 normal form, with the https scheme's own
// normalisation (section 6.2.3):
//   - the scheme and host in lower case, the host without a trailing dot;
//   - no port 443, no empty port, no port with leading zeros;
//   - no percent-encoded unreserved character (%7E for "~"), and
//     upper-case hex digits in every percent-encoding;
//   - a path of at least "/", and no empty query ("?" at the end);
//   - only characters valid in a URI: ASCII, no spaces or controls, none
//     of " < > \ ^ ` { | }, and no "[" or "]" outside an IPv6 host.
//
// The host must be a DNS name (letters, digits and hyphens: an IDN in its
// xn-- form), an IPv4 address in dotted-decimal form, or a bracketed IPv6
// address in RFC 5952 form: numbers in any other form (2130706433,
// 0177.0.0.1, 0x7f.1, 127.1), which resolvers and browsers read as IPv4
// addresses, are refused. Which addresses may be fetched from is the
// transport's decision (NewTransport), not this function's.
//
// It must fit the cache's key (MaxClientIDBytes). A failure wraps
// ErrInvalidClientID, and for a URL that is valid but not in normal form
// names the normal form.
func ValidateClientID(clientID string) error {
	if _, err := validateClientID(clientID); err != nil {
		return fmt.Errorf("cimd: validate client_id: %w", err)
	}
	return nil
}

// clientIDError is an invalid client_id: why says what is wrong in terms
// of the client_id alone, so it may be shown to the client (OAuthError).
type clientIDError struct{ why string }

func (e *clientIDError) Error() string { return ErrInvalidClientID.Error() + ": " + e.why }
func (e *clientIDError) Unwrap() error { return ErrInvalidClientID }

// validateClientID checks clientID and returns its host, as the key of
// the per-host fetch limit.
func validateClientID(clientID string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", &clientIDError{fmt.Sprintf(format, args...)}
	}
	switch {
	case clientID == "":
		return bad("is empty")
	case len(clientID) > MaxClientIDBytes:
		return bad("is longer than %d bytes", MaxClientIDBytes)
	case !isPrintableASCII(clientID):
		return bad("must be ASCII without spaces or control characters")
	case !strings.HasPrefix(clientID, "https://"):
		return bad(`must use the "https" scheme, in lower case`)
	}
	if i := strings.IndexFunc(clientID, notInURI); i >= 0 {
		return bad("must not contain the character U+%04X: it is not valid in a URI (RFC 3986 section 2), percent-encode it", clientID[i])
	}
	if strings.Contains(clientID, "#") {
		return bad("must not contain a fragment")
	}
	rest := clientID[len("https://"):]
	authority, pathQuery := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, pathQuery = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return bad("must not contain a username or password")
	}
	host, port, err := normalAuthority(authority)
	if err != nil {
		return bad("%s", err)
	}

	path, query, hasQuery := strings.Cut(pathQuery, "?")
	if i := strings.IndexAny(pathQuery, "[]"); i >= 0 {
		return bad("must not contain the character U+%04X in its path or query: percent-encode it", pathQuery[i])
	}
	for _, seg := range strings.Split(path, "/") {
		// %2E is "." (RFC 3986 section 2.3), so "/%2e%2E/" is a
		// double-dot segment too.
		if dec, err := url.PathUnescape(seg); err == nil && (dec == "." || dec == "..") {
			return bad(`must not contain "." or ".." path segments`)
		}
	}
	normal := "https://" + host + port
	if path == "" {
		path = "/" // section 6.2.3: an empty path is "/"
	}
	p, err := normalPercentEncoding(path)
	if err != nil {
		return bad("%s", err)
	}
	normal += p
	if hasQuery && query != "" {
		q, err := normalPercentEncoding(query)
		if err != nil {
			return bad("%s", err)
		}
		normal += "?" + q
	}
	if normal != clientID {
		return bad("must be in normal form (RFC 3986 section 6.2.2): %q", normal)
	}
	// Whatever is in normal form here must also be what net/http will
	// request.
	if u, err := url.Parse(clientID); err != nil || u.Host != host+port {
		return bad("is not a URL net/http reads as written")
	}
	return host, nil
}

// normalAuthority returns the normal form of a host and port, or why they
// are invalid.
func normalAuthority(authority string) (host, port string, err error) {
	var rawPort string
	var hasPort bool
	if lit, ok := strings.CutPrefix(authority, "["); ok {
		addrText, after, closed := strings.Cut(lit, "]")
		addr, perr := netip.ParseAddr(addrText)
		if !closed || perr != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", errors.New("must have an IPv6 address without a zone between the brackets of its host")
		}
		host = "[" + addr.String() + "]"
		if after != "" {
			if after[0] != ':' {
				return "", "", errors.New("must have nothing but a port after its IPv6 host")
			}
			rawPort, hasPort = after[1:], true
		}
	} else {
		var h string
		h, rawPort, hasPort = strings.Cut(authority, ":")
		if h == "" {
			return "", "", errors.New("must contain a host")
		}
		if host, err = normalHostName(h); err != nil {
			return "", "", err
		}
	}
	if !hasPort || rawPort == "" {
		return host, "", nil
	}
	digits := strings.TrimLeft(rawPort, "0")
	if strings.Trim(rawPort, "0123456789") != "" {
		return "", "", errors.New("must have a port that is a decimal number")
	}
	if n, _ := strconv.Atoi(digits); len(digits) > 5 || n < 1 || n > 65535 {
		return "", "", errors.New("must have a port between 1 and 65535")
	} else if n != 443 {
		port = ":" + digits
	}
	return host, port, nil
}

// normalHostName returns a DNS name or dotted-decimal IPv4 address in
// lower case without a trailing dot, or why h is neither.
func normalHostName(h string) (string, error) {
	errHost := errors.New("must have a host that is a DNS name (letters, digits and hyphens), an IPv4 address in dotted-decimal form, or an IPv6 address in brackets")
	name := strings.TrimSuffix(strings.ToLower(h), ".")
	if name == "" || len(name) > 253 {
		return "", errHost
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return "", errHost
		}
	}
	// A name whose last label is a number is read as an IPv4 address by
	// the WHATWG URL standard, in whatever form: only dotted-decimal is
	// one spelling per address.
	if last := labels[len(labels)-1]; isNumericLabel(last) {
		if addr, err := netip.ParseAddr(name); err != nil || !addr.Is4() {
			return "", errHost
		}
	}
	return name, nil
}

// isNumericLabel reports whether l is a decimal or 0x-prefixed hex number.
func isNumericLabel(l string) bool {
	if hex, ok := strings.CutPrefix(l, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(l, "0123456789") == ""
}

// normalPercentEncoding returns s with every percent-encoded unreserved
// character decoded and every other percent-encoding in upper case (RFC
// 3986 sections 6.2.2.1 and 6.2.2.2).
func normalPercentEncoding(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New(`must follow every "%" with two hexadecimal digits`)
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteString(strings.ToUpper(s[i : i+3]))
		}
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// isUnreserved reports whether c is an unreserved character (RFC 3986
// section 2.3).
func isUnreserved(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// notInURI reports whether a printable ASCII character appears nowhere in
// RFC 3986's grammar: neither unreserved, nor reserved, nor "%".
func notInURI(r rune) bool { return strings.ContainsRune("\"<>\\^`{|}", r) }

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
