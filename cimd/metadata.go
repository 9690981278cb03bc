package cimd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ClientMetadata is a typed view of a resolved document: the RFC 7591
// section 2 members an authorization server uses, and every other member
// in Extra. Make one with ParseClientMetadata.
//
// A member absent from the document is the field's zero value: a nil
// slice, an empty string, a nil JWKS. A member present but empty (for
// example "grant_types": []) is a non-nil empty slice, so the methods that
// apply RFC 7591's defaults can tell the two apart.
type ClientMetadata struct {
	// ClientID is the client_id member: the document's own URL.
	ClientID string
	// RedirectURIs is redirect_uris, as written: compare a request's
	// redirect_uri with them by exact string comparison.
	RedirectURIs []string
	// GrantTypes is grant_types; GrantTypesOrDefault applies the default.
	GrantTypes []string
	// ResponseTypes is response_types; ResponseTypesOrDefault applies the
	// default.
	ResponseTypes []string
	// TokenEndpointAuthMethod is token_endpoint_auth_method, never a
	// shared-secret method; TokenEndpointAuthMethodOrDefault applies the
	// default.
	TokenEndpointAuthMethod string
	// JWKS is the jwks member, a JWK Set (RFC 7517 section 5) re-encoded as
	// JSON, ready for a JOSE library; nil when absent. Only its shape is
	// checked (an object whose "keys" is an array of objects), not the
	// keys.
	JWKS json.RawMessage
	// JWKSURI is jwks_uri. At most one of JWKS and JWKSURI is set.
	JWKSURI string
	// Scope is scope, space-separated scope values; Scopes splits it.
	Scope string
	// ClientName is client_name.
	ClientName string
	// ClientURI is client_uri.
	ClientURI string
	// LogoURI is logo_uri.
	LogoURI string
	// Contacts is contacts.
	Contacts []string
	// SoftwareID is software_id.
	SoftwareID string
	// SoftwareVersion is software_version.
	SoftwareVersion string
	// Extra holds every other member, deep-copied from the document, with
	// numbers as the document had them (json.Number from Resolve); nil
	// when there is none. Language-tagged members such as
	// "client_name#ja" (RFC 7591 section 2.2) are kept here too.
	Extra map[string]any
}

// The defaults the *OrDefault methods apply to an absent member.
const (
	// DefaultGrantType is RFC 7591 section 2's default grant_types entry.
	DefaultGrantType = "authorization_code"
	// DefaultResponseType is RFC 7591 section 2's default response_types
	// entry.
	DefaultResponseType = "code"
	// DefaultTokenEndpointAuthMethod is "none", a public client, and not
	// RFC 7591's "client_secret_basic": a document cannot establish a
	// shared secret (draft section 4.1, enforced by ValidateDocument), and
	// the other methods need keys the document would have to name.
	DefaultTokenEndpointAuthMethod = "none"
)

// metadataMembers are the members ClientMetadata has a field for; every
// other member goes to Extra.
var metadataMembers = map[string]bool{
	"client_id": true, "redirect_uris": true, "grant_types": true,
	"response_types": true, "token_endpoint_auth_method": true,
	"jwks": true, "jwks_uri": true, "scope": true, "client_name": true,
	"client_uri": true, "logo_uri": true, "contacts": true,
	"software_id": true, "software_version": true,
}

// ParseClientMetadata returns the typed view of doc, a document from
// Resolve. It checks the JSON types of the members it has a field for,
// and the rules that need no URL: client_id present, jwks and jwks_uri not
// both present (RFC 7591 section 2), no shared-secret
// token_endpoint_auth_method and no client_secret or
// client_secret_expires_at (draft section 4.1, as ValidateDocument). It
// does not compare client_id with a URL (Resolve did) nor check that URIs
// are well formed. null is a wrong type, not an absent member.
//
// A failure wraps ErrInvalidDocument, so OAuthError makes it
// invalid_client, and names every failing member with what was expected,
// for example "redirect_uris: must be an array of strings, got a number at
// index 2". To refuse such documents before they are cached, add a Rule
// that calls ParseClientMetadata to Config.Rules.
//
// The view shares nothing with doc: changing one does not change the
// other.
func ParseClientMetadata(doc map[string]any) (*ClientMetadata, error) {
	var p metadataParser
	if doc == nil {
		p.fail("", "must be a JSON object")
		return nil, p.err()
	}
	p.doc = doc
	m := &ClientMetadata{
		ClientID:                p.str("client_id", true),
		RedirectURIs:            p.strs("redirect_uris"),
		GrantTypes:              p.strs("grant_types"),
		ResponseTypes:           p.strs("response_types"),
		TokenEndpointAuthMethod: p.str("token_endpoint_auth_method", false),
		JWKS:                    p.jwks("jwks"),
		JWKSURI:                 p.str("jwks_uri", false),
		Scope:                   p.str("scope", false),
		ClientName:              p.str("client_name", false),
		ClientURI:               p.str("client_uri", false),
		LogoURI:                 p.str("logo_uri", false),
		Contacts:                p.strs("contacts"),
		SoftwareID:              p.str("software_id", false),
		SoftwareVersion:         p.str("software_version", false),
	}
	if method := m.TokenEndpointAuthMethod; sharedSecretMethods[method] || strings.HasPrefix(method, "client_secret_") {
		p.fail("token_endpoint_auth_method", fmt.Sprintf("must not be %q: a document cannot establish a shared secret", method))
	}
	for _, k := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := doc[k]; ok {
			p.fail(k, "must be absent: a document cannot establish a shared secret")
		}
	}
	_, hasJWKS := doc["jwks"]
	_, hasJWKSURI := doc["jwks_uri"]
	if hasJWKS && hasJWKSURI {
		p.fail("jwks", "must not be present with jwks_uri (RFC 7591 section 2)")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	for k, v := range doc {
		if !metadataMembers[k] {
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			m.Extra[k] = cloneValue(v)
		}
	}
	return m, nil
}

// GrantTypesOrDefault returns GrantTypes, or [DefaultGrantType] when the
// member was absent (nil). An empty array stays empty: the client declared
// no grant type.
func (m *ClientMetadata) GrantTypesOrDefault() []string {
	if m.GrantTypes == nil {
		return []string{DefaultGrantType}
	}
	return m.GrantTypes
}

// ResponseTypesOrDefault returns ResponseTypes, or [DefaultResponseType]
// when the member was absent (nil). An empty array stays empty.
func (m *ClientMetadata) ResponseTypesOrDefault() []string {
	if m.ResponseTypes == nil {
		return []string{DefaultResponseType}
	}
	return m.ResponseTypes
}

// TokenEndpointAuthMethodOrDefault returns TokenEndpointAuthMethod, or
// DefaultTokenEndpointAuthMethod ("none") when it is empty.
func (m *ClientMetadata) TokenEndpointAuthMethodOrDefault() string {
	if m.TokenEndpointAuthMethod == "" {
		return DefaultTokenEndpointAuthMethod
	}
	return m.TokenEndpointAuthMethod
}

// Scopes returns the scope values of Scope, split on spaces (RFC 6749
// section 3.3), without empty ones; nil when there are none.
func (m *ClientMetadata) Scopes() []string {
	scopes := strings.FieldsFunc(m.Scope, func(r rune) bool { return r == ' ' })
	if len(scopes) == 0 {
		return nil
	}
	return scopes
}

// metadataParser collects one error per failing member.
type metadataParser struct {
	doc  map[string]any
	errs []string
}

func (p *metadataParser) fail(member, why string) {
	if member != "" {
		why = member + ": " + why
	}
	p.errs = append(p.errs, why)
}

// err is nil, or every failure joined on one line, for logs.
func (p *metadataParser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return fmt.Errorf("cimd: parse client metadata: %w: %s", ErrInvalidDocument, strings.Join(p.errs, "; "))
}

// str reads a string member; absent is "" unless required.
func (p *metadataParser) str(member string, required bool) string {
	v, ok := p.doc[member]
	if !ok {
		if required {
			p.fail(member, "must be present")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.fail(member, "must be a string, got "+jsonType(v))
	}
	return s
}

// strs reads an array of strings; absent is nil, empty is non-nil.
func (p *metadataParser) strs(member string) []string {
	v, ok := p.doc[member]
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case []string: // a map built in Go rather than decoded
		return append([]string{}, v...)
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				p.fail(member, fmt.Sprintf("must be an array of strings, got %s at index %d", jsonType(e), i))
				return nil
			}
			out[i] = s
		}
		return out
	}
	p.fail(member, "must be an array of strings, got "+jsonType(v))
	return nil
}

// jwks reads a JWK Set and re-encodes it.
func (p *metadataParser) jwks(member string) json.RawMessage {
	v, ok := p.doc[member]
	if !ok {
		return nil
	}
	set, ok := v.(map[string]any)
	if !ok {
		p.fail(member, "must be a JWK Set object, got "+jsonType(v))
		return nil
	}
	keys, ok := set["keys"]
	if !ok {
		p.fail(member, `must be a JWK Set object with a "keys" array (RFC 7517 section 5), got no "keys"`)
		return nil
	}
	arr, ok := keys.([]any)
	if !ok {
		p.fail(member, `must have "keys" as an array of objects, got `+jsonType(keys))
		return nil
	}
	for i, k := range arr {
		if _, ok := k.(map[string]any); !ok {
			p.fail(member, fmt.Sprintf(`must have "keys" as an array of objects, got %s at index %d`, jsonType(k), i))
			return nil
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep the key material's text as written
	if err := enc.Encode(set); err != nil {
		p.fail(member, "cannot be encoded as JSON: "+err.Error())
		return nil
	}
	return json.RawMessage(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// jsonType names v's JSON type with its article, for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64, int32, uint, uint64, uint32:
		return "a number"
	case []any, []string:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a Go %T", v)
}
