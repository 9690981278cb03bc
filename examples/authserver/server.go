package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// parTTL is how long a pushed request lives: long enough for the client to
// redirect the user, short as RFC 9126 section 2.2 asks.
const parTTL = 60 * time.Second

// maxFormBytes bounds a request body, well under the store's 64 KiB
// document limit.
const maxFormBytes = 32 << 10

// server holds the handlers' dependencies, shared by every request.
type server struct {
	pars     repo.ClientBoundPARStore
	resolver *cimd.Resolver
	log      *slog.Logger
}

func (s *server) routes() http.Handler {
	// The consent form changes state: a cross-site page must not be able
	// to post it in the user's name (RFC 6749 section 10.12).
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, oauthError{http.StatusForbidden, "invalid_request", "cross-origin requests are refused"}, nil)
	}))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /par", s.par)
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.Handle("POST /authorize/consent", csrf.Handler(http.HandlerFunc(s.consent)))
	return mux
}

// oauthError is an OAuth error response: all a client or user is told.
type oauthError struct {
	status      int
	code        string
	description string
}

var (
	serverError       = oauthError{http.StatusInternalServerError, "server_error", "the server could not complete the request; try again later"}
	invalidRequestURI = oauthError{http.StatusBadRequest, "invalid_request_uri", "the request_uri is unknown, expired or used, or was pushed by another client"}
	repeatedParameter = oauthError{http.StatusBadRequest, "invalid_request", "a parameter is included more than once"}
)

func invalidRequest(description string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", description}
}

// fail writes e and logs err, the detail e must never carry: at Error
// level for the server's own failures, at Info for the client's.
func (s *server) fail(w http.ResponseWriter, r *http.Request, e oauthError, err error) {
	level := slog.LevelInfo
	if e.status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "error", e.code}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	s.log.Log(r.Context(), level, "request failed", attrs...)
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// readForm parses r's body as a form and returns it as the params a PAR
// store keeps, refusing repeated parameters.
func readForm(w http.ResponseWriter, r *http.Request) (map[string]any, *oauthError, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			return nil, &oauthError{http.StatusRequestEntityTooLarge, "invalid_request", "the request is larger than this server accepts"}, err
		}
		e := invalidRequest("the request body is not a valid form")
		return nil, &e, err
	}
	return formParams(r.PostForm)
}

// formParams is repo.ParamsFromForm with its error mapped.
func formParams(form url.Values) (map[string]any, *oauthError, error) {
	params, err := repo.ParamsFromForm(form)
	switch {
	case errors.Is(err, changesets.ErrInvalid):
		return nil, &repeatedParameter, err
	case err != nil:
		return nil, &serverError, err
	}
	return params, nil, nil
}

// param is a parameter's value; repo.ParamsFromForm makes every one a
// string.
func param(params map[string]any, name string) string {
	v, _ := params[name].(string)
	return v
}

// par is the pushed authorization request endpoint (RFC 9126 section 2).
func (s *server) par(w http.ResponseWriter, r *http.Request) {
	params, e, err := readForm(w, r)
	if e != nil {
		s.fail(w, r, *e, err)
		return
	}
	if e := validate(params); e != nil {
		s.fail(w, r, *e, nil)
		return
	}
	if e, err := s.authenticateClient(r, params); e != nil {
		s.fail(w, r, *e, err)
		return
	}
	// quickstart:begin
	requestURI := repo.NewRequestURI()
	if err := s.pars.Put(r.Context(), requestURI, params, parTTL); err != nil {
		s.fail(w, r, putError(err), err) // see putError: 400 or 500, never err's text
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"request_uri": requestURI, "expires_in": int(parTTL / time.Second),
	})
	// quickstart:end
}

// validate checks what this example needs of a pushed request. A real
// server checks more here: scope against the client's, PKCE's
// code_challenge (required for public clients), and so on.
func validate(params map[string]any) *oauthError {
	var e oauthError
	switch redirectURI := param(params, "redirect_uri"); {
	case param(params, "client_id") == "":
		e = invalidRequest("client_id is required")
	case params["request_uri"] != nil: // RFC 9126 section 2.1
		e = invalidRequest("request_uri must not be pushed")
	case redirectURI == "":
		e = invalidRequest("redirect_uri is required")
	case !absoluteWithoutFragment(redirectURI): // RFC 6749 section 3.1.2
		e = invalidRequest("redirect_uri must be an absolute URI without a fragment")
	case param(params, "response_type") != "code":
		e = oauthError{http.StatusBadRequest, "unsupported_response_type", "response_type must be code"}
	default:
		return nil
	}
	return &e
}

func absoluteWithoutFragment(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Host != "" && !strings.Contains(s, "#")
}

// demoRedirectHost is where demo clients' redirect_uris must point: a
// name under .example, reserved by RFC 2606.
const demoRedirectHost = "client.example"

// authenticateClient is where client authentication goes (RFC 9126
// section 2: the PAR endpoint authenticates the client as the token
// endpoint does), and where the redirect_uri is checked against the
// client's registration.
//
// STUB: this example has no client registry and checks no credentials.
//   - A client_id that is an https URL is a Client ID Metadata Document
//     client: its document is resolved, and redirect_uri must be one of its
//     redirect_uris. A real server also authenticates it as its
//     token_endpoint_auth_method says (private_key_jwt against its jwks or
//     jwks_uri), or requires PKCE of a public one ("none").
//   - Any other client_id is a demo client, accepted only with a
//     redirect_uri on demoRedirectHost, a reserved name no one can serve,
//     so a copy left as it is cannot redirect codes to an attacker's site.
//     Replace this with the lookup in your client registry and your
//     clients' authentication.
//
// Credentials it cannot check are refused rather than ignored.
func (s *server) authenticateClient(r *http.Request, params map[string]any) (*oauthError, error) {
	_, _, basic := r.BasicAuth()
	if basic || params["client_secret"] != nil || params["client_assertion"] != nil {
		return &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}, nil
	}
	clientID := param(params, "client_id")
	if !strings.HasPrefix(clientID, "https://") {
		if u, err := url.Parse(param(params, "redirect_uri")); err != nil || u.Scheme != "https" || u.Host != demoRedirectHost {
			e := invalidRequest("redirect_uri is not one of the client's redirect_uris")
			return &e, nil
		}
		return nil, nil
	}
	doc, err := s.resolver.Resolve(r.Context(), clientID)
	if err != nil {
		return resolveError(err), err
	}
	metadata, err := cimd.ParseClientMetadata(doc) // wrong member types are invalid_client
	if err != nil {
		return resolveError(err), err
	}
	if !slices.Contains(metadata.RedirectURIs, param(params, "redirect_uri")) {
		e := invalidRequest("redirect_uri is not one of the client's redirect_uris")
		return &e, nil
	}
	return nil, nil
}

// resolveError is the response to an error of the cimd resolver: its
// client-safe code and description, with 400, or 401 for invalid_client
// (RFC 6749 section 5.2), 503 for temporarily_unavailable, 500 otherwise.
func resolveError(err error) *oauthError {
	code, description := cimd.OAuthError(err)
	status := http.StatusInternalServerError
	switch code {
	case cimd.CodeInvalidRequest:
		status = http.StatusBadRequest
	case cimd.CodeInvalidClient:
		status = http.StatusUnauthorized
	case cimd.CodeTemporarilyUnavailable:
		status = http.StatusServiceUnavailable
	}
	return &oauthError{status, code, description}
}

// putError is the response to a failed PARStore.Put.
func putError(err error) oauthError {
	switch {
	case errors.Is(err, repo.ErrDuplicate):
		// The request_uri was ours, 256 random bits: a collision means
		// something is wrong here, not with the client's request. Checked
		// first, should a duplicate ever match ErrInvalid too.
		return serverError
	case errors.Is(err, changesets.ErrInvalid):
		// The store refused the parameters: NUL characters, invalid UTF-8,
		// too large.
		return invalidRequest("the request parameters are not valid")
	}
	return serverError // the database failed
}

// currentUser is where the user's login goes. STUB: everyone is signed in
// as demo-user. A real server sends a user without a session to its login
// page and back to /authorize, which is why /authorize only reads the
// pushed request.
func currentUser(*http.Request) string { return "demo-user" }

// issueCode is where the authorization code is made. STUB: a random value,
// stored nowhere. A real server stores it, for one use and a minute or so,
// with what the token endpoint checks: the client_id, redirect_uri,
// code_challenge and scope of params, and the user.
func issueCode(user string, params map[string]any) string { return rand.Text() }

// authorizationRequest reads client_id and request_uri, which /authorize
// and the consent form both take (RFC 9126 section 4).
func authorizationRequest(params map[string]any) (clientID, requestURI string, e *oauthError) {
	clientID, requestURI = param(params, "client_id"), param(params, "request_uri")
	if clientID == "" || requestURI == "" {
		bad := invalidRequest("client_id and request_uri are required: this server takes pushed authorization requests only")
		return "", "", &bad
	}
	return clientID, requestURI, nil
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<title>Authorize</title>
<p>Signed in as {{.User}}.
<p>{{.ClientID}} asks for access: {{.Scope}}
<form method="post" action="/authorize/consent">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="request_uri" value="{{.RequestURI}}">
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form>
`))

// authorize is the authorization endpoint (RFC 9126 section 4): it shows
// the consent page for a pushed request, which stays in the store until
// the user decides.
func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	query, e, err := formParams(r.URL.Query())
	if e != nil {
		s.fail(w, r, *e, err)
		return
	}
	clientID, requestURI, e := authorizationRequest(query)
	if e != nil {
		s.fail(w, r, *e, nil)
		return
	}
	// While the user logs in and consents: read, for the presenting client only.
	params, found, err := s.pars.FetchForClient(r.Context(), requestURI, clientID)
	switch {
	case err != nil: // the store failed: never a miss
		s.fail(w, r, serverError, err)
		return
	case !found: // unknown, expired, used, or another client's
		s.fail(w, r, invalidRequestURI, nil)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY") // no consent in a frame (RFC 6749 section 10.13)
	consentPage.Execute(w, map[string]string{
		"User": currentUser(r), "ClientID": clientID, "RequestURI": requestURI, "Scope": param(params, "scope"),
	})
}

// consent takes the user's decision: the pushed request is consumed, once,
// whatever it is, and the user goes back to the client.
func (s *server) consent(w http.ResponseWriter, r *http.Request) {
	form, e, err := readForm(w, r)
	if e != nil {
		s.fail(w, r, *e, err)
		return
	}
	clientID, requestURI, e := authorizationRequest(form)
	if e != nil {
		s.fail(w, r, *e, nil)
		return
	}
	decision := param(form, "decision")
	if decision != "approve" && decision != "deny" {
		s.fail(w, r, invalidRequest("decision must be approve or deny"), nil)
		return
	}
	// quickstart:begin
	// The user decided: consume it, exactly once, for the presenting client only.
	params, found, err := s.pars.TakeForClient(r.Context(), requestURI, clientID)
	switch {
	case err != nil:
		s.fail(w, r, serverError, err)
		return
	case !found: // a replay, or a request taken meanwhile on another node
		s.fail(w, r, invalidRequestURI, nil)
		return
	}
	// quickstart:end
	redirect, err := url.Parse(param(params, "redirect_uri")) // validated when pushed
	if err != nil {
		s.fail(w, r, serverError, err)
		return
	}
	q := redirect.Query()
	if decision == "approve" {
		q.Set("code", issueCode(currentUser(r), params))
	} else {
		q.Set("error", "access_denied")
	}
	if state := param(params, "state"); state != "" {
		q.Set("state", state)
	}
	redirect.RawQuery = q.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusSeeOther)
}
