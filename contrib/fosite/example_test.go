package gormfosite_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"

	"github.com/attesto/gormstore/cimd"
	gormfosite "github.com/attesto/gormstore/contrib/fosite"
	"github.com/attesto/gormstore/repo"
)

// exampleStore is the application's fosite storage: this module's PAR
// storage and client manager at depth 1, the application's own storage
// one level deeper.
type exampleStore struct {
	*gormfosite.PARStorage
	*gormfosite.ClientManager
	exampleBase
}

type exampleBase struct{ *storage.MemoryStore }

// The lines a fosite application adds, and what they give it: a
// request_uri that resolves once, for the client that pushed it.
func Example() {
	app := storage.NewMemoryStore() // the application's own storage
	app.Clients["app"] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{ID: "app", Public: true,
			RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid"}},
		TokenEndpointAuthMethod: "none",
	}

	// In production, on one *gorm.DB shared by every node:
	// repo.NewGormPARStore(db, nil), repo.NewGormReplayStore(db, nil),
	// repo.NewGormClientIDMetadataCache(db, nil).
	resolver, err := cimd.NewResolver(&cimd.Config{Cache: repo.NewMemoryClientIDMetadataCache(nil)})
	if err != nil {
		panic(err)
	}
	clients, err := gormfosite.NewClientManager(&gormfosite.ClientConfig{
		Resolver: resolver, Replay: repo.NewMemoryReplayStore(nil), Clients: app,
	})
	if err != nil {
		panic(err)
	}
	pars, err := gormfosite.NewPARStorage(&gormfosite.PARConfig{
		Store: repo.NewMemoryPARStore(nil), Clients: clients,
		NewSession: func() fosite.Session { return new(openid.DefaultSession) },
	})
	if err != nil {
		panic(err)
	}
	store := exampleStore{pars, clients, exampleBase{app}}

	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	config := &fosite.Config{
		GlobalSecret:                []byte("some-cool-secret-that-is-32bytes"),
		EnforcePKCEForPublicClients: true,
		ScopeStrategy:               fosite.WildcardScopeStrategy,
		AudienceMatchingStrategy:    fosite.DefaultAudienceMatchingStrategy,
		JWKSFetcherStrategy:         gormfosite.NewJWKSFetcher(nil),
	}
	provider := compose.ComposeAllEnabled(config, store, key)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /par", func(w http.ResponseWriter, r *http.Request) {
		ar, err := provider.NewPushedAuthorizeRequest(r.Context(), r)
		if err != nil {
			provider.WritePushedAuthorizeError(r.Context(), w, ar, err)
			return
		}
		resp, err := provider.NewPushedAuthorizeResponse(r.Context(), ar, new(openid.DefaultSession))
		if err != nil {
			provider.WritePushedAuthorizeError(r.Context(), w, ar, err)
			return
		}
		provider.WritePushedAuthorizeResponse(r.Context(), w, ar, resp)
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		// The presenting client, before fosite resolves the request_uri.
		ctx := gormfosite.WithPresentingClient(r.Context(), r.FormValue("client_id"))
		ar, err := provider.NewAuthorizeRequest(ctx, r)
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		// Log the user in and ask for consent here.
		ar.GrantScope("openid")
		resp, err := provider.NewAuthorizeResponse(ctx, ar, &openid.DefaultSession{
			Subject: "alice", Claims: &jwt.IDTokenClaims{Subject: "alice"}, Headers: &jwt.Headers{},
		})
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		provider.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer noRedirects.CloseIdleConnections()

	resp, err := noRedirects.PostForm(srv.URL+"/par", url.Values{
		"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"},
		"scope": {"openid"}, "state": {"state-0123456789"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	})
	if err != nil {
		panic(err)
	}
	var pushed struct {
		RequestURI string `json:"request_uri"`
	}
	json.NewDecoder(resp.Body).Decode(&pushed)
	resp.Body.Close()
	fmt.Println("push:", resp.StatusCode)

	for _, clientID := range []string{"https://evil.example/client.json", "app", "app"} {
		resp, err := noRedirects.Get(srv.URL + "/authorize?" + url.Values{
			"client_id": {clientID}, "request_uri": {pushed.RequestURI},
		}.Encode())
		if err != nil {
			panic(err)
		}
		var body struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if code := loc.Query().Get("code"); code != "" {
			fmt.Printf("authorize as %s: a code\n", clientID)
		} else {
			fmt.Printf("authorize as %s: %s\n", clientID, body.Error)
		}
	}
	// Output:
	// push: 201
	// authorize as https://evil.example/client.json: invalid_request_uri
	// authorize as app: a code
	// authorize as app: invalid_request_uri
}
