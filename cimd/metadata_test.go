package cimd_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/attesto/gormstore/cimd"
)

// decode reads a document as Resolve gives it: numbers as json.Number.
func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

const testClientID = "https://app.example/client.json"

// withMember is the minimal valid document plus the member given as JSON.
func withMember(t *testing.T, member, value string) map[string]any {
	t.Helper()
	doc := decode(t, `{"client_id": "`+testClientID+`"}`)
	if member != "" {
		doc[member] = decode(t, `{"v": `+value+`}`)["v"]
	}
	return doc
}

func TestParseClientMetadataFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		member, value string
		want          func(m *cimd.ClientMetadata) any // the field read
		wantValue     any
	}{
		{"client_id", `"` + testClientID + `"`, func(m *cimd.ClientMetadata) any { return m.ClientID }, testClientID},
		{"redirect_uris", `["https://app.example/cb", "https://app.example/cb2"]`, func(m *cimd.ClientMetadata) any { return m.RedirectURIs }, []string{"https://app.example/cb", "https://app.example/cb2"}},
		{"redirect_uris", `[]`, func(m *cimd.ClientMetadata) any { return m.RedirectURIs }, []string{}},
		{"grant_types", `["authorization_code", "refresh_token"]`, func(m *cimd.ClientMetadata) any { return m.GrantTypes }, []string{"authorization_code", "refresh_token"}},
		{"response_types", `["code"]`, func(m *cimd.ClientMetadata) any { return m.ResponseTypes }, []string{"code"}},
		{"token_endpoint_auth_method", `"private_key_jwt"`, func(m *cimd.ClientMetadata) any { return m.TokenEndpointAuthMethod }, "private_key_jwt"},
		{"jwks", `{"keys": [{"kty": "EC", "crv": "P-256", "x": "f83O", "y": "x_FE", "n": 65537.0}]}`, func(m *cimd.ClientMetadata) any { return string(m.JWKS) }, `{"keys":[{"crv":"P-256","kty":"EC","n":65537.0,"x":"f83O","y":"x_FE"}]}`},
		{"jwks", `{"keys": []}`, func(m *cimd.ClientMetadata) any { return string(m.JWKS) }, `{"keys":[]}`},
		{"jwks_uri", `"https://app.example/jwks.json"`, func(m *cimd.ClientMetadata) any { return m.JWKSURI }, "https://app.example/jwks.json"},
		{"scope", `"openid profile"`, func(m *cimd.ClientMetadata) any { return m.Scope }, "openid profile"},
		{"client_name", `"Example <App> & Co"`, func(m *cimd.ClientMetadata) any { return m.ClientName }, "Example <App> & Co"},
		{"client_uri", `"https://app.example/"`, func(m *cimd.ClientMetadata) any { return m.ClientURI }, "https://app.example/"},
		{"logo_uri", `"https://app.example/logo.png"`, func(m *cimd.ClientMetadata) any { return m.LogoURI }, "https://app.example/logo.png"},
		{"contacts", `["ops@app.example"]`, func(m *cimd.ClientMetadata) any { return m.Contacts }, []string{"ops@app.example"}},
		{"software_id", `"4NRB1-0XZABZI9E6-5SM3R"`, func(m *cimd.ClientMetadata) any { return m.SoftwareID }, "4NRB1-0XZABZI9E6-5SM3R"},
		{"software_version", `"2.1"`, func(m *cimd.ClientMetadata) any { return m.SoftwareVersion }, "2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.member+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			m, err := cimd.ParseClientMetadata(withMember(t, tt.member, tt.value))
			if err != nil {
				t.Fatalf("ParseClientMetadata: %v", err)
			}
			if got := tt.want(m); !reflect.DeepEqual(got, tt.wantValue) {
				t.Errorf("%s = %#v, want %#v", tt.member, got, tt.wantValue)
			}
			if m.Extra != nil {
				t.Errorf("Extra = %v, want nil: every member is a known one", m.Extra)
			}
		})
	}
}

func TestParseClientMetadataWrongTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		member, value, want string
	}{
		{"client_id", `7`, "client_id: must be a string, got a number"},
		{"client_id", `null`, "client_id: must be a string, got null"},
		{"redirect_uris", `"https://app.example/cb"`, "redirect_uris: must be an array of strings, got a string"},
		{"redirect_uris", `["https://a.example/1", "https://a.example/2", 3]`, "redirect_uris: must be an array of strings, got a number at index 2"},
		{"redirect_uris", `[null]`, "redirect_uris: must be an array of strings, got null at index 0"},
		{"redirect_uris", `{"0": "https://app.example/cb"}`, "redirect_uris: must be an array of strings, got an object"},
		{"grant_types", `"authorization_code"`, "grant_types: must be an array of strings, got a string"},
		{"grant_types", `[["authorization_code"]]`, "grant_types: must be an array of strings, got an array at index 0"},
		{"response_types", `true`, "response_types: must be an array of strings, got a boolean"},
		{"response_types", `["code", false]`, "response_types: must be an array of strings, got a boolean at index 1"},
		{"token_endpoint_auth_method", `["none"]`, "token_endpoint_auth_method: must be a string, got an array"},
		{"token_endpoint_auth_method", `"client_secret_basic"`, `token_endpoint_auth_method: must not be "client_secret_basic": a document cannot establish a shared secret`},
		{"token_endpoint_auth_method", `"client_secret_anything"`, `token_endpoint_auth_method: must not be "client_secret_anything"`},
		{"jwks", `"https://app.example/jwks.json"`, "jwks: must be a JWK Set object, got a string"},
		{"jwks", `[{"kty": "EC"}]`, "jwks: must be a JWK Set object, got an array"},
		{"jwks", `{"kty": "EC"}`, `jwks: must be a JWK Set object with a "keys" array (RFC 7517 section 5), got no "keys"`},
		{"jwks", `{"keys": {"kty": "EC"}}`, `jwks: must have "keys" as an array of objects, got an object`},
		{"jwks", `{"keys": [{"kty": "EC"}, "k2"]}`, `jwks: must have "keys" as an array of objects, got a string at index 1`},
		{"jwks_uri", `{}`, "jwks_uri: must be a string, got an object"},
		{"scope", `["openid", "profile"]`, "scope: must be a string, got an array"},
		{"client_name", `42`, "client_name: must be a string, got a number"},
		{"client_uri", `null`, "client_uri: must be a string, got null"},
		{"logo_uri", `false`, "logo_uri: must be a string, got a boolean"},
		{"contacts", `"ops@app.example"`, "contacts: must be an array of strings, got a string"},
		{"contacts", `["ops@app.example", {}]`, "contacts: must be an array of strings, got an object at index 1"},
		{"software_id", `1`, "software_id: must be a string, got a number"},
		{"software_version", `2.1`, "software_version: must be a string, got a number"},
		{"client_secret", `"s3cret"`, "client_secret: must be absent: a document cannot establish a shared secret"},
		{"client_secret_expires_at", `0`, "client_secret_expires_at: must be absent"},
	}
	for _, tt := range tests {
		t.Run(tt.member+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			m, err := cimd.ParseClientMetadata(withMember(t, tt.member, tt.value))
			if err == nil {
				t.Fatalf("ParseClientMetadata = %+v, want an error", m)
			}
			if m != nil {
				t.Errorf("ParseClientMetadata returned %+v with its error, want nil", m)
			}
			if !errors.Is(err, cimd.ErrInvalidDocument) {
				t.Errorf("error %v does not match ErrInvalidDocument", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Count(err.Error(), ": must ") != 1 {
				t.Errorf("error %q names more than the one failing member", err)
			}
			if code, _ := cimd.OAuthError(err); code != cimd.CodeInvalidClient {
				t.Errorf("OAuthError code = %q, want %q", code, cimd.CodeInvalidClient)
			}
		})
	}
}

func TestParseClientMetadataJoinsEveryFailure(t *testing.T) {
	t.Parallel()
	doc := decode(t, `{
		"redirect_uris": "https://app.example/cb",
		"grant_types": ["authorization_code", 1],
		"jwks": {"keys": []},
		"jwks_uri": "https://app.example/jwks.json",
		"client_name": "fine",
		"scope": 3
	}`)
	_, err := cimd.ParseClientMetadata(doc)
	want := "cimd: parse client metadata: invalid client metadata document: " +
		"client_id: must be present; " +
		"redirect_uris: must be an array of strings, got a string; " +
		"grant_types: must be an array of strings, got a number at index 1; " +
		"scope: must be a string, got a number; " +
		"jwks: must not be present with jwks_uri (RFC 7591 section 2)"
	if err == nil || err.Error() != want {
		t.Fatalf("error =\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, cimd.ErrInvalidDocument) {
		t.Errorf("error does not match ErrInvalidDocument")
	}
}

func TestParseClientMetadataNotAnObject(t *testing.T) {
	t.Parallel()
	_, err := cimd.ParseClientMetadata(nil)
	if !errors.Is(err, cimd.ErrInvalidDocument) || !strings.Contains(err.Error(), "must be a JSON object") {
		t.Fatalf("ParseClientMetadata(nil) error = %v, want ErrInvalidDocument saying it must be a JSON object", err)
	}
}

func TestParseClientMetadataJWKSAndURIExclusive(t *testing.T) {
	t.Parallel()
	doc := withMember(t, "jwks", `{"keys": []}`)
	doc["jwks_uri"] = "https://app.example/jwks.json"
	_, err := cimd.ParseClientMetadata(doc)
	if !errors.Is(err, cimd.ErrInvalidDocument) || !strings.Contains(err.Error(), "jwks: must not be present with jwks_uri") {
		t.Fatalf("error = %v, want ErrInvalidDocument naming jwks and jwks_uri", err)
	}
}

func TestParseClientMetadataKeepsUnknownMembers(t *testing.T) {
	t.Parallel()
	doc := decode(t, `{
		"client_id": "`+testClientID+`",
		"client_name": "Example",
		"client_name#ja": "例",
		"tos_uri": "https://app.example/tos",
		"default_max_age": 3600,
		"post_logout_redirect_uris": ["https://app.example/bye"],
		"x_nested": {"a": [1, {"b": null}]},
		"x_flag": false
	}`)
	m, err := cimd.ParseClientMetadata(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"client_name#ja":            "例",
		"tos_uri":                   "https://app.example/tos",
		"default_max_age":           json.Number("3600"),
		"post_logout_redirect_uris": []any{"https://app.example/bye"},
		"x_nested":                  map[string]any{"a": []any{json.Number("1"), map[string]any{"b": nil}}},
		"x_flag":                    false,
	}
	if !reflect.DeepEqual(m.Extra, want) {
		t.Fatalf("Extra = %#v\nwant %#v", m.Extra, want)
	}
	// The view is a copy: changing it leaves the document as it was.
	m.Extra["x_nested"].(map[string]any)["a"].([]any)[0] = "changed"
	m.Extra["tos_uri"] = "changed"
	if got := doc["x_nested"].(map[string]any)["a"].([]any)[0]; got != json.Number("1") {
		t.Errorf("changing Extra changed the document: %v", got)
	}
	if doc["tos_uri"] != "https://app.example/tos" {
		t.Errorf("changing Extra changed the document's tos_uri")
	}
}

func TestParseClientMetadataDoesNotAliasDocument(t *testing.T) {
	t.Parallel()
	doc := withMember(t, "redirect_uris", `["https://app.example/cb"]`)
	doc["contacts"] = []string{"ops@app.example"} // as a map built in Go
	m, err := cimd.ParseClientMetadata(doc)
	if err != nil {
		t.Fatal(err)
	}
	m.RedirectURIs[0] = "https://evil.example/cb"
	m.Contacts[0] = "evil@evil.example"
	if doc["redirect_uris"].([]any)[0] != "https://app.example/cb" || doc["contacts"].([]string)[0] != "ops@app.example" {
		t.Errorf("changing the view changed the document: %v", doc)
	}
}

func TestClientMetadataDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		doc            string
		grants, resps  []string
		method         string
		scopes         []string
		wantJWKSAbsent bool
	}{
		{
			name:   "absent members take the defaults",
			doc:    `{"client_id": "` + testClientID + `"}`,
			grants: []string{"authorization_code"}, resps: []string{"code"}, method: "none",
			scopes: nil, wantJWKSAbsent: true,
		},
		{
			name: "present members are kept",
			doc: `{"client_id": "` + testClientID + `", "grant_types": ["refresh_token"],
				"response_types": ["code id_token"], "token_endpoint_auth_method": "private_key_jwt",
				"scope": " openid  profile email "}`,
			grants: []string{"refresh_token"}, resps: []string{"code id_token"}, method: "private_key_jwt",
			scopes: []string{"openid", "profile", "email"}, wantJWKSAbsent: true,
		},
		{
			name:   "empty arrays declare nothing and are not defaulted",
			doc:    `{"client_id": "` + testClientID + `", "grant_types": [], "response_types": [], "scope": ""}`,
			grants: []string{}, resps: []string{}, method: "none",
			scopes: nil, wantJWKSAbsent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := cimd.ParseClientMetadata(decode(t, tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.GrantTypesOrDefault(); !reflect.DeepEqual(got, tt.grants) {
				t.Errorf("GrantTypesOrDefault = %#v, want %#v", got, tt.grants)
			}
			if got := m.ResponseTypesOrDefault(); !reflect.DeepEqual(got, tt.resps) {
				t.Errorf("ResponseTypesOrDefault = %#v, want %#v", got, tt.resps)
			}
			if got := m.TokenEndpointAuthMethodOrDefault(); got != tt.method {
				t.Errorf("TokenEndpointAuthMethodOrDefault = %q, want %q", got, tt.method)
			}
			if got := m.Scopes(); !reflect.DeepEqual(got, tt.scopes) {
				t.Errorf("Scopes = %#v, want %#v", got, tt.scopes)
			}
			if (m.JWKS == nil) != tt.wantJWKSAbsent || m.JWKSURI != "" || m.Extra != nil {
				t.Errorf("absent members set: JWKS %s, JWKSURI %q, Extra %v", m.JWKS, m.JWKSURI, m.Extra)
			}
		})
	}
}

// The default token endpoint auth method is one ValidateDocument accepts,
// unlike RFC 7591's client_secret_basic.
func TestDefaultTokenEndpointAuthMethodPassesValidation(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"client_id": testClientID, "token_endpoint_auth_method": cimd.DefaultTokenEndpointAuthMethod}
	if err := cimd.ValidateDocument(testClientID, doc); err != nil {
		t.Fatalf("ValidateDocument refuses the default method: %v", err)
	}
	if _, err := cimd.ParseClientMetadata(doc); err != nil {
		t.Fatalf("ParseClientMetadata refuses the default method: %v", err)
	}
}

// A document straight from Resolve, fetched and then from the cache,
// parses into the members the host served.
func TestParseClientMetadataFromResolver(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Write([]byte(`{"client_id": "` + requestURL(r) + `",
				"client_name": "Example App",
				"redirect_uris": ["https://app.example/callback"],
				"grant_types": ["authorization_code", "refresh_token"],
				"token_endpoint_auth_method": "private_key_jwt",
				"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83O", "y": "x_FE"}]},
				"scope": "openid profile",
				"default_max_age": 3600}`))
		})
		f := newFixture(t, kind, host, cimd.Config{})
		clientID := host.clientID("/client.json")
		for _, pass := range []string{"fetched", "cached"} {
			doc, err := f.resolver.Resolve(context.Background(), clientID)
			if err != nil {
				t.Fatalf("%s: Resolve: %v", pass, err)
			}
			m, err := cimd.ParseClientMetadata(doc)
			if err != nil {
				t.Fatalf("%s: ParseClientMetadata: %v", pass, err)
			}
			want := &cimd.ClientMetadata{
				ClientID:                clientID,
				ClientName:              "Example App",
				RedirectURIs:            []string{"https://app.example/callback"},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				TokenEndpointAuthMethod: "private_key_jwt",
				JWKS:                    json.RawMessage(`{"keys":[{"crv":"P-256","kty":"EC","x":"f83O","y":"x_FE"}]}`),
				Scope:                   "openid profile",
				Extra:                   map[string]any{"default_max_age": json.Number("3600")},
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("%s: ParseClientMetadata =\n%#v\nwant\n%#v", pass, m, want)
			}
		}
		if n := host.requests.Load(); n != 1 {
			t.Errorf("document host got %d requests, want 1 (the second Resolve is a cache hit)", n)
		}
	})
}

// As a Rule, ParseClientMetadata keeps a document with a wrong type out
// of the cache, and the client gets invalid_client.
func TestParseClientMetadataAsRule(t *testing.T) {
	t.Parallel()
	forEachCache(t, func(t *testing.T, kind cacheKind) {
		host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"client_id": "` + requestURL(r) + `", "redirect_uris": "https://app.example/callback"}`))
		})
		rule := func(_ string, doc map[string]any) error {
			_, err := cimd.ParseClientMetadata(doc)
			return err
		}
		clientID := host.clientID("/client.json")

		// Without the rule the document resolves: the draft's checks
		// alone do not look at redirect_uris.
		plain := newFixture(t, kind, host, cimd.Config{})
		if _, err := plain.resolver.Resolve(context.Background(), clientID); err != nil {
			t.Fatalf("Resolve without the rule: %v", err)
		}

		f := newFixture(t, kind, host, cimd.Config{Rules: []cimd.Rule{rule}})
		_, err := f.resolver.Resolve(context.Background(), clientID)
		if !errors.Is(err, cimd.ErrInvalidDocument) || !strings.Contains(err.Error(), "redirect_uris: must be an array of strings, got a string") {
			t.Fatalf("Resolve with the rule: error = %v, want ErrInvalidDocument naming redirect_uris", err)
		}
		if code, _ := cimd.OAuthError(err); code != cimd.CodeInvalidClient {
			t.Errorf("OAuthError code = %q, want %q", code, cimd.CodeInvalidClient)
		}
		if f.cached(t, clientID) {
			t.Errorf("the refused document was cached")
		}
	})
}
