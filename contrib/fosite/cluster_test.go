package gormfosite_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/cimd"
	gormfosite "github.com/attesto/gormstore/contrib/fosite"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

const (
	// tokenURL is the cluster's one public token endpoint, whatever node
	// serves it: the audience of client assertions.
	tokenURL      = "https://as.example/token"
	redirectURI   = "https://app.example/cb"
	appClientID   = "app"
	otherClientID = "other"
)

var (
	// The cluster's secrets, shared by its nodes.
	globalSecret = []byte("0123456789abcdef0123456789abcdef")
	signingKey   = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// nodeStorage is a node's fosite storage as an application composes it:
// PAR and clients at depth 1, everything else one level deeper, so that
// the depth-1 methods win over the MemoryStore's.
type nodeStorage struct {
	fosite.PARStorage
	fosite.ClientManager
	shared
}

type shared struct{ *storage.MemoryStore }

var _ interface {
	fosite.Storage
	fosite.PARStorage
} = nodeStorage{}

// clusterOptions choose what a cluster's nodes run on.
type clusterOptions struct {
	// memory runs PAR and clients on fosite's own MemoryStore, shared by
	// both nodes (the best case for it: per node, node B would not even
	// find what node A stored), instead of on this module.
	memory bool
	// gate, when set, holds every GetPARSession until gate.n of them have
	// returned, so that every Get runs before any Delete.
	gate *gate
	// helper makes the authorize handler call WithPresentingClient;
	// without it, GetPARSession binds to fosite's own request in ctx.
	helper bool
	// documentHost is a TLS server hosting client metadata documents on
	// loopback, which the nodes' resolvers may reach (cimd's loopback
	// opt-in, with the host's certificate trusted).
	documentHost *httptest.Server
	// jwksURI accepts documents with a jwks_uri, fetched from
	// documentHost by NewJWKSFetcher.
	jwksURI bool
}

type cluster struct {
	mem    *storage.MemoryStore
	nodes  [2]*node
	client *http.Client
	pools  [2]*gorm.DB
}

type node struct {
	name     string
	url      string
	provider fosite.OAuth2Provider
}

// newCluster starts two nodes on two pools of one fresh schema, sharing
// one fosite MemoryStore for everything but PAR, clients and replay, with
// the registered public clients "app" and "other".
func newCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	c := &cluster{mem: storage.NewMemoryStore()}
	for _, id := range []string{appClientID, otherClientID} {
		c.mem.Clients[id] = &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{
				ID: id, Public: true, RedirectURIs: []string{redirectURI},
				GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
				Scopes: []string{"openid", "profile"},
			},
			TokenEndpointAuthMethod: "none",
		}
	}
	c.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.client.CloseIdleConnections)

	var schema string
	if !opts.memory {
		schema = newSchema(t)
	}
	for i, name := range []string{"A", "B"} {
		var st nodeStorage
		st.shared = shared{c.mem}
		if opts.memory {
			st.PARStorage, st.ClientManager = ownRedirectURI{c.mem}, c.mem
		} else {
			c.pools[i] = testdb.Open(t, schema, 8)
			st.PARStorage, st.ClientManager = newGormNode(t, c.pools[i], c.mem, opts.documentHost, opts.jwksURI)
		}
		if opts.gate != nil {
			st.PARStorage = gatedPAR{st.PARStorage, opts.gate}
		}
		cfg := &fosite.Config{
			GlobalSecret:                globalSecret,
			TokenURL:                    tokenURL,
			IDTokenIssuer:               "https://as.example",
			EnforcePKCEForPublicClients: true,
			// fosite's Config fills these in on first use, which races
			// between concurrent requests: set them up front.
			ScopeStrategy:            fosite.WildcardScopeStrategy,
			AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
		}
		cfg.ClientSecretsHasher = &fosite.BCrypt{Config: cfg}
		if opts.jwksURI {
			cfg.JWKSFetcherStrategy = gormfosite.NewJWKSFetcher(&gormfosite.JWKSFetcherConfig{Client: loopbackClient(opts.documentHost)})
		}
		n := &node{name: name, provider: compose.ComposeAllEnabled(cfg, st, signingKey())}
		srv := httptest.NewServer(n.handler(opts.helper))
		t.Cleanup(srv.Close)
		n.url = srv.URL
		c.nodes[i] = n
	}
	return c
}

// newGormNode returns one node's PAR storage and client manager on its
// own pool.
func newGormNode(t *testing.T, db *gorm.DB, mem *storage.MemoryStore, documentHost *httptest.Server, jwksURI bool) (*gormfosite.PARStorage, *gormfosite.ClientManager) {
	t.Helper()
	replay, err := repo.NewGormReplayStore(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := repo.NewGormClientIDMetadataCache(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := &cimd.Config{Cache: cache}
	if documentHost != nil {
		rcfg.Fetch = loopbackFetch(documentHost)
	}
	resolver, err := cimd.NewResolver(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := gormfosite.NewClientManager(&gormfosite.ClientConfig{Resolver: resolver, Replay: replay, Clients: mem, AllowJWKSURI: jwksURI})
	if err != nil {
		t.Fatal(err)
	}
	store, err := repo.NewGormPARStore(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	pars, err := gormfosite.NewPARStorage(&gormfosite.PARConfig{
		Store: store, Clients: clients,
		NewSession: func() fosite.Session { return new(openid.DefaultSession) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return pars, clients
}

// loopbackFetch is the resolver's fetch for documents on host: cimd's own
// guarded transport with its loopback opt-in, trusting host's
// certificate.
func loopbackFetch(host *httptest.Server) cimd.FetchFunc {
	return cimd.HTTPFetch(loopbackClient(host))
}

// loopbackClient is a client on cimd's guarded transport with its loopback
// opt-in, trusting host's certificate.
func loopbackClient(host *httptest.Server) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(host.Certificate())
	tr := cimd.NewTransport(&cimd.TransportConfig{AllowLoopback: true})
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// gate holds each GetPARSession until n have returned.
type gate struct {
	n  int
	wg sync.WaitGroup
}

func newGate(n int) *gate {
	g := &gate{n: n}
	g.wg.Add(n)
	return g
}

type gatedPAR struct {
	fosite.PARStorage
	gate *gate
}

func (g gatedPAR) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	ar, err := g.PARStorage.GetPARSession(ctx, requestURI)
	g.gate.wg.Done()
	g.gate.wg.Wait()
	return ar, err
}

// ownRedirectURI gives each GetPARSession of fosite's MemoryStore a
// redirect URI of its own. The MemoryStore returns the very request it
// stored, fosite copies its *url.URL into every request resolved from it,
// and WriteAuthorizeResponse writes the code into that URL: concurrent
// successes race on it (the race detector reports it). The copy removes
// only that race; which presentations succeed is still the MemoryStore's
// Get and Delete.
type ownRedirectURI struct{ fosite.PARStorage }

func (o ownRedirectURI) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	ar, err := o.PARStorage.GetPARSession(ctx, requestURI)
	if stored, ok := ar.(*fosite.AuthorizeRequest); ok && err == nil {
		cp := *stored
		if stored.RedirectURI != nil {
			u := *stored.RedirectURI
			cp.RedirectURI = &u
		}
		return &cp, nil
	}
	return ar, err
}

func newSession(subject string) *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject, RequestedAt: time.Now().UTC(), AuthTime: time.Now().UTC()},
		Headers: &jwt.Headers{},
		Subject: subject,
	}
}

// handler is a node's PAR, authorization and token endpoints, as a fosite
// application writes them; the user is taken as logged in and consenting.
func (n *node) handler(helper bool) http.Handler {
	p := n.provider
	mux := http.NewServeMux()
	mux.HandleFunc("POST /par", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewPushedAuthorizeRequest(ctx, r)
		if err != nil {
			p.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		resp, err := p.NewPushedAuthorizeResponse(ctx, ar, newSession(""))
		if err != nil {
			p.WritePushedAuthorizeError(ctx, w, ar, err)
			return
		}
		p.WritePushedAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if helper {
			ctx = gormfosite.WithPresentingClient(ctx, r.FormValue("client_id"))
		}
		ar, err := p.NewAuthorizeRequest(ctx, r)
		if err != nil {
			p.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		resp, err := p.NewAuthorizeResponse(ctx, ar, newSession("alice"))
		if err != nil {
			p.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		p.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewAccessRequest(ctx, r, newSession(""))
		if err != nil {
			p.WriteAccessError(ctx, w, ar, err)
			return
		}
		resp, err := p.NewAccessResponse(ctx, ar)
		if err != nil {
			p.WriteAccessError(ctx, w, ar, err)
			return
		}
		p.WriteAccessResponse(ctx, w, ar, resp)
	})
	return mux
}

// pkce is a PKCE verifier and its S256 challenge (RFC 7636).
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := randomString(32)
	sum := sha256.Sum256([]byte(v))
	return pkce{v, base64.RawURLEncoding.EncodeToString(sum[:])}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pushForm is a code flow request with PKCE for clientID.
func pushForm(clientID string, p pkce) url.Values {
	return url.Values{
		"client_id":             {clientID},
		"response_type":         {"code"},
		"redirect_uri":          {redirectURI},
		"scope":                 {"openid profile"},
		"state":                 {randomString(12)},
		"nonce":                 {randomString(12)},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
	}
}

// reply is an endpoint's answer: its status, and the OAuth parameters of
// its redirect or its JSON body.
type reply struct {
	status int
	params map[string]string
	body   string
}

func (r reply) get(k string) string { return r.params[k] }

func (c *cluster) post(t *testing.T, n *node, path string, form url.Values) reply {
	t.Helper()
	resp, err := c.client.PostForm(n.url+path, form)
	if err != nil {
		t.Fatalf("node %s %s: %v", n.name, path, err)
	}
	return readReply(t, resp)
}

// authorize presents requestURI at n's authorization endpoint as
// clientID.
func (c *cluster) authorize(t *testing.T, n *node, clientID, requestURI string) reply {
	t.Helper()
	resp, err := c.client.Get(n.url + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode())
	if err != nil {
		t.Fatalf("node %s /authorize: %v", n.name, err)
	}
	return readReply(t, resp)
}

func readReply(t *testing.T, resp *http.Response) reply {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, params: map[string]string{}, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q: %v", loc, err)
		}
		for k, vs := range u.Query() {
			r.params[k] = vs[0]
		}
		return r
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for k, v := range m {
			if s, ok := v.(string); ok {
				r.params[k] = s
			} else {
				b, _ := json.Marshal(v)
				r.params[k] = string(b)
			}
		}
	}
	return r
}

// push pushes form to n and returns the request_uri.
func (c *cluster) push(t *testing.T, n *node, form url.Values) string {
	t.Helper()
	r := c.post(t, n, "/par", form)
	if r.status != http.StatusCreated || !strings.HasPrefix(r.get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("push on node %s: %d %s", n.name, r.status, r.body)
	}
	return r.get("request_uri")
}

// exchange redeems code at n's token endpoint with extra (client
// authentication) and the PKCE verifier.
func (c *cluster) exchange(t *testing.T, n *node, code string, p pkce, extra url.Values) reply {
	t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {p.verifier},
	}
	for k, vs := range extra {
		form[k] = vs
	}
	return c.post(t, n, "/token", form)
}
