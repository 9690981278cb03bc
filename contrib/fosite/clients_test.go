package gormfosite_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/cimd"
	gormfosite "github.com/attesto/gormstore/contrib/fosite"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

// newManager returns a ClientManager on db, resolving documents on host
// (nil: the default, guarded fetch), with cfg's other settings.
func newManager(t *testing.T, db *gorm.DB, host *httptest.Server, cfg gormfosite.ClientConfig) *gormfosite.ClientManager {
	t.Helper()
	cache, err := repo.NewGormClientIDMetadataCache(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := &cimd.Config{Cache: cache}
	if host != nil {
		rcfg.Fetch = loopbackFetch(host)
	}
	resolver, err := cimd.NewResolver(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := repo.NewGormReplayStore(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Resolver, cfg.Replay = resolver, replay
	m, err := gormfosite.NewClientManager(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A document becomes the fosite client it describes; one the server
// cannot use as a client is invalid_client.
func TestClientFromDocument(t *testing.T) {
	host := newDocumentHost(t)
	key := newClientKey(t)
	db := testdb.Open(t, newSchema(t), 2)
	m := newManager(t, db, host.Server, gormfosite.ClientConfig{AllowJWKSURI: true})
	strict := newManager(t, db, host.Server, gormfosite.ClientConfig{})
	type want struct {
		public       bool
		method       string
		grants       []string
		responses    []string
		scopes       []string
		redirects    []string
		jwksURI      string
		keys         int
		signingAlg   string
		invalidCause string
	}
	for _, tc := range []struct {
		name   string
		doc    map[string]any
		want   want
		strict bool // by the default ClientConfig, AllowJWKSURI false
	}{
		{"no method: public, RFC 7591 defaults", map[string]any{"redirect_uris": []string{redirectURI}},
			want{public: true, method: "none", grants: []string{"authorization_code"}, responses: []string{"code"}, scopes: []string{}, redirects: []string{redirectURI}, signingAlg: "RS256"}, false},
		{"none, with its grants, response types and scopes", map[string]any{"token_endpoint_auth_method": "none",
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code", "code id_token"},
			"scope": " openid  profile offline ", "redirect_uris": []string{redirectURI, "https://app.example/cb2"}},
			want{public: true, method: "none", grants: []string{"authorization_code", "refresh_token"}, responses: []string{"code", "code id_token"},
				scopes: []string{"openid", "profile", "offline"}, redirects: []string{redirectURI, "https://app.example/cb2"}, signingAlg: "RS256"}, false},
		{"private_key_jwt with jwks", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks(t), "token_endpoint_auth_signing_alg": "ES256"},
			want{method: "private_key_jwt", grants: []string{"authorization_code"}, responses: []string{"code"}, scopes: []string{}, keys: 1, signingAlg: "ES256"}, false},
		{"private_key_jwt with jwks_uri", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example/jwks.json"},
			want{method: "private_key_jwt", grants: []string{"authorization_code"}, responses: []string{"code"}, scopes: []string{}, jwksURI: "https://app.example/jwks.json", signingAlg: "RS256"}, false},
		{"private_key_jwt with jwks_uri, by default", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example/jwks.json"},
			want{invalidCause: "jwks_uri is not accepted"}, true},
		{"private_key_jwt with jwks, by default", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks(t), "token_endpoint_auth_signing_alg": "ES256"},
			want{method: "private_key_jwt", grants: []string{"authorization_code"}, responses: []string{"code"}, scopes: []string{}, keys: 1, signingAlg: "ES256"}, true},
		{"private_key_jwt with both", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks(t), "jwks_uri": "https://app.example/jwks.json"},
			want{invalidCause: "must not both"}, false},
		{"private_key_jwt with neither", map[string]any{"token_endpoint_auth_method": "private_key_jwt"},
			want{invalidCause: "needs jwks or jwks_uri"}, false},
		{"private_key_jwt with an http jwks_uri", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://app.example/jwks.json"},
			want{invalidCause: "not an https URL"}, false},
		{"private_key_jwt with an empty jwks", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{}}},
			want{invalidCause: "no keys"}, false},
		{"private_key_jwt with a private key", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": privateJWKS(t, key)},
			want{invalidCause: "not a public key"}, false},
		{"tls_client_auth", map[string]any{"token_endpoint_auth_method": "tls_client_auth"},
			want{invalidCause: "not supported"}, false},
		{"scope not a string", map[string]any{"scope": []string{"openid"}},
			want{invalidCause: "scope is not a string"}, false},
		{"redirect_uris not strings", map[string]any{"redirect_uris": []any{1}},
			want{invalidCause: "redirect_uris holds a value"}, false},
		{"grant_types not an array", map[string]any{"grant_types": "authorization_code"},
			want{invalidCause: "grant_types is not an array"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientID := host.serve("/"+randomString(6)+"/client.json", func(id string) map[string]any {
				doc := map[string]any{"client_id": id}
				for k, v := range tc.doc {
					doc[k] = v
				}
				return doc
			})
			manager := m
			if tc.strict {
				manager = strict
			}
			got, err := manager.GetClient(context.Background(), clientID)
			if tc.want.invalidCause != "" {
				assertClientError(t, err, "invalid_client", host.URL)
				if !strings.Contains(errors.Unwrap(err).Error(), tc.want.invalidCause) {
					t.Fatalf("cause %v does not say %q", errors.Unwrap(err), tc.want.invalidCause)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := got.(*fosite.DefaultOpenIDConnectClient)
			for _, f := range []struct {
				field     string
				got, want any
			}{
				{"ID", c.GetID(), clientID},
				{"Public", c.IsPublic(), tc.want.public},
				{"secret", c.GetHashedSecret(), []byte(nil)},
				{"TokenEndpointAuthMethod", c.GetTokenEndpointAuthMethod(), tc.want.method},
				{"GrantTypes", []string(c.GetGrantTypes()), tc.want.grants},
				{"ResponseTypes", []string(c.GetResponseTypes()), tc.want.responses},
				{"Scopes", append([]string{}, c.GetScopes()...), tc.want.scopes},
				{"RedirectURIs", c.GetRedirectURIs(), tc.want.redirects},
				{"JSONWebKeysURI", c.GetJSONWebKeysURI(), tc.want.jwksURI},
				{"TokenEndpointAuthSigningAlgorithm", c.GetTokenEndpointAuthSigningAlgorithm(), tc.want.signingAlg},
			} {
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("%s: got %#v, want %#v", f.field, f.got, f.want)
				}
			}
			if n := 0; c.GetJSONWebKeys() != nil {
				n = len(c.GetJSONWebKeys().Keys)
				if n != tc.want.keys {
					t.Errorf("%d keys, want %d", n, tc.want.keys)
				}
			} else if tc.want.keys != 0 {
				t.Errorf("no keys, want %d", tc.want.keys)
			}
		})
	}
}

func privateJWKS(t *testing.T, k clientKey) map[string]any {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// assertClientError checks that err is the OAuth error code, with a
// description free of the document host's address and of network detail,
// and whose cause keeps the detail.
func assertClientError(t *testing.T, err error, code, hostURL string) {
	t.Helper()
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		t.Fatalf("%v (%T) is not a *fosite.RFC6749Error", err, err)
	}
	if rfc.ErrorField != code || err.Error() != code {
		t.Fatalf("error %q (Error() %q), want %q", rfc.ErrorField, err.Error(), code)
	}
	hostPort := strings.TrimPrefix(hostURL, "https://")
	desc := rfc.GetDescription()
	for _, leak := range []string{hostPort, "127.0.0.1", "refused", "x509", "tls", "404", "dial"} {
		if strings.Contains(desc, leak) || strings.Contains(rfc.Debug(), leak) {
			t.Fatalf("description %q (debug %q) reveals %q", desc, rfc.Debug(), leak)
		}
	}
	if errors.Unwrap(err) == nil {
		t.Fatal("no cause kept for logs")
	}
}

// Resolution failures are the OAuth errors cimd.OAuthError chooses, fit to
// send, with the detail in their cause.
func TestGetClientResolutionErrors(t *testing.T) {
	host := newDocumentHost(t)
	gone := httptest.NewTLSServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	m := newManager(t, testdb.Open(t, newSchema(t), 2), host.Server, gormfosite.ClientConfig{})
	withSecret := host.serve("/secret.json", func(id string) map[string]any {
		return map[string]any{"client_id": id, "client_secret": "s3cret"}
	})
	for _, tc := range []struct {
		name     string
		clientID string
		code     string
		cause    error
		says     string
	}{
		{"host down", goneURL + "/client.json", "invalid_client", cimd.ErrFetch, "could not be retrieved"},
		{"404", host.URL + "/missing.json", "invalid_client", cimd.ErrStatus, "could not be retrieved"},
		{"a document with a client_secret", withSecret, "invalid_client", cimd.ErrInvalidDocument, "not valid for this server"},
		{"not in normal form", "https://App.example/client.json", "invalid_request", cimd.ErrInvalidClientID, "https://app.example/client.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.GetClient(context.Background(), tc.clientID)
			assertClientError(t, err, tc.code, host.URL)
			if !errors.Is(err, tc.cause) {
				t.Fatalf("%v: cause is not %v", errors.Unwrap(err), tc.cause)
			}
			if desc := err.(*fosite.RFC6749Error).GetDescription(); !strings.Contains(desc, tc.says) {
				t.Fatalf("description %q does not say %q", desc, tc.says)
			}
		})
	}
	// The default transport refuses loopback: a document on it is
	// invalid_client too, and says nothing of why.
	def := newManager(t, testdb.Open(t, newSchema(t), 2), nil, gormfosite.ClientConfig{})
	_, err := def.GetClient(context.Background(), host.serve("/ok.json", func(id string) map[string]any { return map[string]any{"client_id": id} }))
	assertClientError(t, err, "invalid_client", host.URL)
	if !errors.Is(err, cimd.ErrForbiddenAddress) {
		t.Fatalf("%v: not refused as a special-use address", errors.Unwrap(err))
	}
}

// Any client_id but an https URL goes to the wrapped manager; without one,
// it is not found.
func TestGetClientOtherIDs(t *testing.T) {
	mem := storage.NewMemoryStore()
	mem.Clients[appClientID] = &fosite.DefaultClient{ID: appClientID}
	db := testdb.Open(t, newSchema(t), 2)
	wrapped := newManager(t, db, nil, gormfosite.ClientConfig{Clients: mem})
	alone := newManager(t, db, nil, gormfosite.ClientConfig{})
	ctx := context.Background()
	if c, err := wrapped.GetClient(ctx, appClientID); err != nil || c != mem.Clients[appClientID] {
		t.Fatalf("registered client: %v %v", c, err)
	}
	for _, id := range []string{"unknown", "HTTPS://app.example/client.json", "http://app.example/client.json"} {
		if _, err := wrapped.GetClient(ctx, id); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("wrapped, %q: %v, want fosite.ErrNotFound", id, err)
		}
		if _, err := alone.GetClient(ctx, id); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("alone, %q: %v, want fosite.ErrNotFound", id, err)
		}
	}
	if _, err := alone.GetClient(ctx, appClientID); !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("alone, %q: %v, want fosite.ErrNotFound", appClientID, err)
	}
}

// Customize sees each client built from a document and may change or
// refuse it; its own error never reaches the client as it is.
func TestGetClientCustomize(t *testing.T) {
	host := newDocumentHost(t)
	clientID := host.serve("/client.json", func(id string) map[string]any {
		return map[string]any{"client_id": id, "scope": "openid admin"}
	})
	for _, tc := range []struct {
		name      string
		customize func(context.Context, map[string]any, *fosite.DefaultOpenIDConnectClient) error
		code      string
		scopes    []string
	}{
		{"restricts scopes", func(_ context.Context, doc map[string]any, c *fosite.DefaultOpenIDConnectClient) error {
			if doc["client_id"] != c.GetID() {
				return errors.New("not the client's document")
			}
			c.Scopes = []string{"openid"}
			return nil
		}, "", []string{"openid"}},
		{"refuses with its own error", func(context.Context, map[string]any, *fosite.DefaultOpenIDConnectClient) error {
			return errors.New("blocked: internal list 7")
		}, "invalid_client", nil},
		{"refuses with an OAuth error", func(context.Context, map[string]any, *fosite.DefaultOpenIDConnectClient) error {
			return fosite.ErrAccessDenied.WithHint("Not today.")
		}, "access_denied", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, testdb.Open(t, newSchema(t), 2), host.Server, gormfosite.ClientConfig{Customize: tc.customize})
			c, err := m.GetClient(context.Background(), clientID)
			if tc.code != "" {
				var rfc *fosite.RFC6749Error
				if !errors.As(err, &rfc) || rfc.ErrorField != tc.code || strings.Contains(rfc.GetDescription(), "internal list") {
					t.Fatalf("%v, want %s without the hook's detail", err, tc.code)
				}
				return
			}
			if err != nil || !reflect.DeepEqual([]string(c.GetScopes()), tc.scopes) {
				t.Fatalf("%v %v, want scopes %v", c, err, tc.scopes)
			}
		})
	}
}

// Client assertion jtis are recorded once for the cluster: a jti recorded
// on one node is known on the other, and of concurrent presentations on
// both nodes exactly one records it.
func TestClientAssertionJTI(t *testing.T) {
	schema := newSchema(t)
	dbA, dbB := testdb.Open(t, schema, 8), testdb.Open(t, schema, 8)
	a, b := newManager(t, dbA, nil, gormfosite.ClientConfig{}), newManager(t, dbB, nil, gormfosite.ClientConfig{})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)

	if err := a.ClientAssertionJWTValid(ctx, "jti-1"); err != nil {
		t.Fatalf("fresh jti: %v", err)
	}
	if err := a.SetClientAssertionJWT(ctx, "jti-1", exp); err != nil {
		t.Fatalf("record: %v", err)
	}
	for name, err := range map[string]error{
		"valid on A":  a.ClientAssertionJWTValid(ctx, "jti-1"),
		"valid on B":  b.ClientAssertionJWTValid(ctx, "jti-1"),
		"record on A": a.SetClientAssertionJWT(ctx, "jti-1", exp),
		"record on B": b.SetClientAssertionJWT(ctx, "jti-1", exp),
	} {
		if !errors.Is(err, fosite.ErrJTIKnown) {
			t.Errorf("%s: %v, want fosite.ErrJTIKnown", name, err)
		}
	}

	// Concurrent presentations of one jti on both nodes.
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = []*gormfosite.ClientManager{a, b}[i%2].SetClientAssertionJWT(ctx, "jti-race", exp)
		}()
	}
	close(start)
	wg.Wait()
	fresh, known := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			fresh++
		case errors.Is(err, fosite.ErrJTIKnown):
			known++
		default:
			t.Errorf("concurrent record: %v", err)
		}
	}
	if fresh != 1 || known != racers-1 {
		t.Fatalf("%d fresh and %d known of %d, want exactly one fresh", fresh, known, racers)
	}

	// A DPoP proof's jti in the same table is another namespace.
	replay, err := repo.NewGormReplayStore(dbA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replay.CheckAndRecord(ctx, "dpop-jti", exp); err != nil {
		t.Fatal(err)
	}
	if err := a.SetClientAssertionJWT(ctx, "dpop-jti", exp); err != nil {
		t.Fatalf("a client assertion with a DPoP proof's jti: %v", err)
	}
	if seen, err := replay.Seen(ctx, gormfosite.JTIPrefix+"jti-1"); err != nil || !seen {
		t.Fatalf("the replay store does not hold %q: %v %v", gormfosite.JTIPrefix+"jti-1", seen, err)
	}
}

// A jti or expiry the store refuses is invalid_client and records
// nothing; a database failure is server_error; neither says why.
func TestClientAssertionJTIErrors(t *testing.T) {
	db := testdb.Open(t, newSchema(t), 2)
	m := newManager(t, db, nil, gormfosite.ClientConfig{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		jti  string
		exp  time.Time
	}{
		{"expired", "jti-expired", time.Now().Add(-time.Second)},
		{"overlong", strings.Repeat("j", 2048), time.Now().Add(time.Minute)},
		{"NUL", "jti\x00", time.Now().Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.SetClientAssertionJWT(ctx, tc.jti, tc.exp)
			var rfc *fosite.RFC6749Error
			if !errors.As(err, &rfc) || rfc.ErrorField != "invalid_client" || strings.Contains(rfc.GetDescription(), "gormstore") {
				t.Fatalf("%v, want invalid_client without the store's message", err)
			}
		})
	}
	if n := testdb.Count(t, db, "dpop_replays"); n != 0 {
		t.Fatalf("%d jtis recorded, want 0", n)
	}

	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	err = m.SetClientAssertionJWT(ctx, "jti-1", time.Now().Add(time.Minute))
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) || rfc.ErrorField != "server_error" || rfc.Debug() != "" || strings.Contains(rfc.GetDescription(), "closed") {
		t.Fatalf("record without a database: %v, want a bare server_error", err)
	}
	if err := m.ClientAssertionJWTValid(ctx, "jti-1"); err == nil {
		t.Fatal("valid without a database: nil, want an error (fosite then refuses the assertion)")
	}
}

func TestNewClientManagerConfig(t *testing.T) {
	resolver, err := cimd.NewResolver(&cimd.Config{Cache: repo.NewMemoryClientIDMetadataCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	replay := repo.NewMemoryReplayStore(nil)
	for name, cfg := range map[string]gormfosite.ClientConfig{
		"no Resolver": {Replay: replay},
		"no Replay":   {Resolver: resolver},
	} {
		if _, err := gormfosite.NewClientManager(&cfg); !errors.Is(err, gormfosite.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	if _, err := gormfosite.NewClientManager(nil); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("NewClientManager(nil) = %v, want ErrConfig", err)
	}
	var zero gormfosite.ClientManager
	ctx := context.Background()
	if _, err := zero.GetClient(ctx, "app"); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("zero GetClient: %v", err)
	}
	if err := zero.ClientAssertionJWTValid(ctx, "j"); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("zero ClientAssertionJWTValid: %v", err)
	}
	if err := zero.SetClientAssertionJWT(ctx, "j", time.Now().Add(time.Minute)); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("zero SetClientAssertionJWT: %v", err)
	}
}
