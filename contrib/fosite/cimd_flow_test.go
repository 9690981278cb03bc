package gormfosite_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
)

// documentHost serves client metadata documents over TLS on loopback,
// each path's document built by its function from the client_id (the
// host's URL and the path), and counts the fetches.
type documentHost struct {
	*httptest.Server
	mu      sync.Mutex
	docs    map[string]func(clientID string) map[string]any
	fetches atomic.Int64
}

func newDocumentHost(t *testing.T) *documentHost {
	h := &documentHost{docs: map[string]func(string) map[string]any{}}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		h.mu.Lock()
		doc, ok := h.docs[r.URL.Path]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		json.NewEncoder(w).Encode(doc(h.URL + r.URL.Path))
	}))
	t.Cleanup(h.Close)
	return h
}

// serve publishes doc at path and returns its client_id.
func (h *documentHost) serve(path string, doc func(clientID string) map[string]any) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.docs[path] = doc
	return h.URL + path
}

// clientKey is a private_key_jwt client's key pair.
type clientKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func newClientKey(t *testing.T) clientKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{priv, randomString(8)}
}

// jwks is the public half, as a document's jwks member.
func (k clientKey) jwks(t *testing.T) map[string]any {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// assertion is a client assertion (RFC 7523 section 2.2) for clientID
// with the given jti, as form values.
func (k clientKey) assertion(t *testing.T, clientID, jti string) url.Values {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: josejwt.Audience{tokenURL}, ID: jti,
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {s},
	}
}

func merge(a, b url.Values) url.Values {
	out := url.Values{}
	for k, vs := range a {
		out[k] = vs
	}
	for k, vs := range b {
		out[k] = vs
	}
	return out
}

// A client known only by its Client ID Metadata Document, on a local TLS
// host, completes the flow across the nodes: push on A, authorize on B,
// exchange on A. Its document is fetched once for the whole cluster.
func TestCIMDClientCompletesTheFlow(t *testing.T) {
	host := newDocumentHost(t)
	key := newClientKey(t)
	for _, tc := range []struct {
		name string
		doc  func(clientID string) map[string]any
		auth func(clientID, jti string) url.Values
	}{
		{
			name: "public",
			doc: func(id string) map[string]any {
				return map[string]any{"client_id": id, "client_name": "Public App", "redirect_uris": []string{redirectURI},
					"scope": "openid profile", "token_endpoint_auth_method": "none"}
			},
			auth: func(clientID, _ string) url.Values { return url.Values{"client_id": {clientID}} },
		},
		{
			name: "private_key_jwt",
			doc: func(id string) map[string]any {
				return map[string]any{"client_id": id, "client_name": "Confidential App", "redirect_uris": []string{redirectURI},
					"scope": "openid profile", "token_endpoint_auth_method": "private_key_jwt",
					"token_endpoint_auth_signing_alg": "ES256", "jwks": key.jwks(t)}
			},
			auth: func(clientID, jti string) url.Values { return key.assertion(t, clientID, jti) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientID := host.serve("/"+tc.name+"/client.json", tc.doc)
			before := host.fetches.Load()
			c := newCluster(t, clusterOptions{documentHost: host.Server})
			a, b := c.nodes[0], c.nodes[1]
			p := newPKCE()
			requestURI := c.push(t, a, merge(pushForm(clientID, p), tc.auth(clientID, randomString(16))))
			r := c.authorize(t, b, clientID, requestURI)
			if r.get("code") == "" {
				t.Fatalf("authorize on B: %d %v %s", r.status, r.params, r.body)
			}
			tok := c.exchange(t, a, r.get("code"), p, tc.auth(clientID, randomString(16)))
			if tok.status != http.StatusOK || tok.get("access_token") == "" {
				t.Fatalf("exchange on A: %d %s", tok.status, tok.body)
			}
			if n := host.fetches.Load() - before; n != 1 {
				t.Fatalf("the document was fetched %d times, want once for the cluster", n)
			}
		})
	}
}

// A client assertion accepted on node A is refused on node B, at the token
// endpoint (jti_known) and at the PAR endpoint (invalid_client, as fosite
// words any authentication failure there); the same client with a fresh
// jti is accepted on B.
func TestReplayedClientAssertionRefusedOnOtherNode(t *testing.T) {
	host := newDocumentHost(t)
	key := newClientKey(t)
	clientID := host.serve("/client.json", func(id string) map[string]any {
		return map[string]any{"client_id": id, "redirect_uris": []string{redirectURI}, "scope": "openid profile",
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256", "jwks": key.jwks(t)}
	})
	c := newCluster(t, clusterOptions{documentHost: host.Server})
	a, b := c.nodes[0], c.nodes[1]

	pushAssertion := key.assertion(t, clientID, randomString(16))
	p := newPKCE()
	requestURI := c.push(t, a, merge(pushForm(clientID, p), pushAssertion))
	r := c.authorize(t, b, clientID, requestURI)
	if r.get("code") == "" {
		t.Fatalf("authorize on B: %d %v %s", r.status, r.params, r.body)
	}
	tokenAssertion := key.assertion(t, clientID, randomString(16))
	if tok := c.exchange(t, a, r.get("code"), p, tokenAssertion); tok.status != http.StatusOK {
		t.Fatalf("exchange on A: %d %s", tok.status, tok.body)
	}

	// The token request replayed on B, word for word.
	replay := c.exchange(t, b, r.get("code"), p, tokenAssertion)
	if replay.status != http.StatusBadRequest || replay.get("error") != "jti_known" {
		t.Fatalf("token request replayed on B: %d %s, want 400 jti_known", replay.status, replay.body)
	}
	// The push's assertion, on B's PAR endpoint.
	if again := c.post(t, b, "/par", merge(pushForm(clientID, newPKCE()), pushAssertion)); again.status != http.StatusUnauthorized || again.get("error") != "invalid_client" {
		t.Fatalf("push assertion replayed on B: %d %s, want 401 invalid_client", again.status, again.body)
	}
	// A fresh jti from the same client is accepted on B.
	c.push(t, b, merge(pushForm(clientID, newPKCE()), key.assertion(t, clientID, randomString(16))))
}
