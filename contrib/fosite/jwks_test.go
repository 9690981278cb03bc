package gormfosite_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/attesto/gormstore/cimd"
	gormfosite "github.com/attesto/gormstore/contrib/fosite"
)

// NewJWKSFetcher's default refuses a key set on loopback; on a client that
// may reach it, it fetches the keys, but refuses a body over MaxBytes and
// does not follow a redirect.
func TestJWKSFetcher(t *testing.T) {
	key := newClientKey(t)
	keys, err := json.Marshal(key.jwks(t))
	if err != nil {
		t.Fatal(err)
	}
	host := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jwks.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(keys)
		case "/large.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(keys[:len(keys)-1])
			w.Write([]byte(strings.Repeat(" ", 200) + "}"))
		case "/redirect.json":
			http.Redirect(w, r, "/jwks.json", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(host.Close)
	ctx := context.Background()

	_, err = gormfosite.NewJWKSFetcher(nil).Resolve(ctx, host.URL+"/jwks.json", false)
	if !errors.Is(err, cimd.ErrForbiddenAddress) {
		t.Fatalf("default fetcher on loopback: %v, want cimd.ErrForbiddenAddress", err)
	}

	limit := int64(len(keys) + 100)
	f := gormfosite.NewJWKSFetcher(&gormfosite.JWKSFetcherConfig{Client: loopbackClient(host), MaxBytes: limit})
	set, err := f.Resolve(ctx, host.URL+"/jwks.json", false)
	if err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != key.kid {
		t.Fatalf("fetch: %v %v", set, err)
	}
	if _, err := f.Resolve(ctx, host.URL+"/large.json", false); !errors.Is(err, gormfosite.ErrJWKSTooLarge) {
		t.Fatalf("a body over %d bytes: %v, want ErrJWKSTooLarge", limit, err)
	}
	if set, err := f.Resolve(ctx, host.URL+"/redirect.json", false); err == nil {
		t.Fatalf("a redirect was followed: %v", set)
	}
}

// A private_key_jwt client whose document gives a jwks_uri completes the
// flow across the nodes, its keys fetched by NewJWKSFetcher.
func TestCIMDClientWithJWKSURI(t *testing.T) {
	host := newDocumentHost(t)
	key := newClientKey(t)
	host.serve("/jwks.json", func(string) map[string]any { return key.jwks(t) })
	clientID := host.serve("/client.json", func(id string) map[string]any {
		return map[string]any{"client_id": id, "redirect_uris": []string{redirectURI}, "scope": "openid profile",
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256",
			"jwks_uri": host.URL + "/jwks.json"}
	})
	c := newCluster(t, clusterOptions{documentHost: host.Server, jwksURI: true})
	a, b := c.nodes[0], c.nodes[1]
	p := newPKCE()
	requestURI := c.push(t, a, merge(pushForm(clientID, p), key.assertion(t, clientID, randomString(16))))
	r := c.authorize(t, b, clientID, requestURI)
	if r.get("code") == "" {
		t.Fatalf("authorize on B: %d %v %s", r.status, r.params, r.body)
	}
	if tok := c.exchange(t, a, r.get("code"), p, key.assertion(t, clientID, randomString(16))); tok.status != http.StatusOK {
		t.Fatalf("exchange on A: %d %s", tok.status, tok.body)
	}
}
