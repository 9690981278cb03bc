package repo_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/repo"
)

// An authorization server's PAR endpoint and /authorize, on the stores. In
// production pars is repo.NewGormPARStore(db, nil), shared by every node.
func Example_authorizationServer() {
	pars := repo.NewMemoryPARStore(nil)
	const ttl = 60 * time.Second

	mux := http.NewServeMux()
	// RFC 9126 section 2: the client pushes its request and gets a reference.
	mux.HandleFunc("POST /par", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "invalid_request", http.StatusBadRequest)
			return
		}
		// One string per parameter; a repeated one is refused.
		params, err := repo.ParamsFromForm(r.PostForm)
		if err != nil {
			http.Error(w, "invalid_request", http.StatusBadRequest)
			return
		}
		// Authenticate the client and validate the request here; client
		// secrets sent with the push are dropped by the store.
		uri := repo.NewRequestURI()
		switch err := pars.Put(r.Context(), uri, params, ttl); {
		case errors.Is(err, changesets.ErrInvalid): // no client_id, say
			http.Error(w, "invalid_request", http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, "server_error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": int(ttl.Seconds())})
	})
	// RFC 9126 section 4: /authorize resolves the reference, for the client
	// that pushed it only. Fetch serves the login and consent pages; Take
	// consumes the request once the user has decided.
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		lookup := pars.FetchForClient
		if q.Get("consent") == "granted" {
			lookup = pars.TakeForClient
		}
		params, found, err := lookup(r.Context(), q.Get("request_uri"), q.Get("client_id"))
		switch {
		case err != nil:
			http.Error(w, "server_error", http.StatusInternalServerError)
		case !found:
			http.Error(w, "invalid_request_uri", http.StatusBadRequest)
		case q.Get("consent") == "granted":
			fmt.Fprintf(w, "redirect to %s with a code", params["redirect_uri"])
		default:
			fmt.Fprintf(w, "consent page for scope %q", params["scope"])
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := "https://app.example.com/client.json"
	resp, _ := http.PostForm(srv.URL+"/par", url.Values{
		"client_id":     {client},
		"client_secret": {"s3cret"},
		"response_type": {"code"},
		"redirect_uri":  {"https://app.example.com/cb"},
		"scope":         {"openid profile"},
	})
	var pushed struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&pushed)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.HasPrefix(pushed.RequestURI, repo.RequestURIPrefix), pushed.ExpiresIn)

	authorize := func(clientID, consent string) {
		resp, _ := http.Get(srv.URL + "/authorize?" + url.Values{
			"client_id": {clientID}, "request_uri": {pushed.RequestURI}, "consent": {consent},
		}.Encode())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	}
	authorize(client, "")                                    // the consent page
	authorize("https://evil.example/client.json", "granted") // another client: nothing
	authorize(client, "granted")                             // consumed
	authorize(client, "granted")                             // replay: nothing
	// Output:
	// 201 true 60
	// 200 consent page for scope "openid profile"
	// 400 invalid_request_uri
	// 200 redirect to https://app.example.com/cb with a code
	// 400 invalid_request_uri
}
