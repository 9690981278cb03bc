package cimd_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// quietServer is a started test server, TLS or not, that does not log the
// handshake errors the tests provoke.
func quietServer(t *testing.T, tls bool, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// allowedInDescription reports whether s has only the characters RFC 6749
// allows in error_description.
func allowedInDescription(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// For every kind of failure, the error keeps its detail for logs, and
// OAuthError gives a code and a description with none of it: no address,
// port, status, TLS or x509 text, database or Rule message.
func TestOAuthErrorHidesInternalDetail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tlsHost := quietServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/500":
			http.Error(w, "stack trace at /srv/app.go:42", 500)
		case "/302":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`{"client_id":"` + requestURL(r) + `"}`))
		case "/other":
			typed(`{"client_id":"https://10.1.2.3:8443/internal"}`, "application/json")(w, r)
		case "/large":
			sized(cimd.DefaultMaxDocumentBytes+1)(w, r)
		case "/slow":
			<-r.Context().Done()
		default:
			serveDocument(t)(w, r)
		}
	})
	plainHost := quietServer(t, false, func(w http.ResponseWriter, r *http.Request) {})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	https := func(s *httptest.Server) string {
		return "https://" + strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
	}

	memory := func() cimd.Cache { return repo.NewMemoryClientIDMetadataCache(nil) }
	trusting := cimd.HTTPFetch(tlsHost.Client())
	errRule := errors.New("rule: tenant 7 blocked by policy table acl_internal")
	dbDown := &failingCache{ClientIDMetadataCache: repo.NewMemoryClientIDMetadataCache(nil), getErr: errors.New("dial tcp 10.0.0.5:5432: connection refused")}

	cases := []struct {
		name   string
		cfg    cimd.Config
		id     string
		ctx    context.Context
		code   string
		detail string // in the error, never in the description
	}{
		{name: "special-use address", cfg: cimd.Config{}, id: https(tlsHost) + "/c", code: "invalid_client", detail: "127.0.0.1"},
		{name: "connection refused", cfg: cimd.Config{Fetch: trusting}, id: https(closed) + "/c", code: "invalid_client", detail: "connection refused"},
		{name: "unknown certificate authority", cfg: cimd.Config{AllowLoopback: true}, id: https(tlsHost) + "/c", code: "invalid_client", detail: "x509"},
		{name: "not TLS", cfg: cimd.Config{AllowLoopback: true}, id: https(plainHost) + "/c", code: "invalid_client", detail: "HTTP response to HTTPS client"},
		{name: "404", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/404", code: "invalid_client", detail: "404"},
		{name: "500", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/500", code: "invalid_client", detail: "500"},
		{name: "redirect", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/302", code: "invalid_client", detail: "302"},
		{name: "timeout", cfg: cimd.Config{Fetch: trusting, FetchTimeout: 50 * time.Millisecond}, id: https(tlsHost) + "/slow", code: "invalid_client", detail: "deadline"},
		{name: "too large", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/large", code: "invalid_client", detail: "5120"},
		{name: "Content-Type", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/html", code: "invalid_client", detail: "text/html"},
		{name: "another client_id", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/other", code: "invalid_client", detail: "10.1.2.3"},
		{name: "Rule", cfg: cimd.Config{Fetch: trusting, Rules: []cimd.Rule{func(string, map[string]any) error { return errRule }}}, id: https(tlsHost) + "/c", code: "invalid_client", detail: "acl_internal"},
		{name: "cache down", cfg: cimd.Config{Cache: dbDown, Fetch: trusting}, id: https(tlsHost) + "/c", code: "server_error", detail: "10.0.0.5"},
		{name: "caller gave up", cfg: cimd.Config{Fetch: trusting}, id: https(tlsHost) + "/slow", ctx: canceled(), code: "temporarily_unavailable", detail: "canceled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.cfg.Cache == nil {
				c.cfg.Cache = memory()
			}
			if c.ctx == nil {
				c.ctx = ctx
			}
			r, err := cimd.NewResolver(&c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Resolve(c.ctx, c.id)
			if err == nil || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("Resolve = %v; want an error with %q for the logs", err, c.detail)
			}
			code, desc := cimd.OAuthError(err)
			if code != c.code {
				t.Errorf("code = %q, want %q (error %v)", code, c.code, err)
			}
			if desc == "" || !allowedInDescription(desc) {
				t.Errorf("description %q: want one in error_description's characters", desc)
			}
			for _, internal := range []string{c.detail, "127.0.0.1", "10.", "x509", "tls", "TLS", "dial", "tcp", "refused", "status"} {
				if strings.Contains(desc, internal) {
					t.Errorf("description %q contains %q", desc, internal)
				}
			}
			if strings.ContainsAny(desc, "0123456789") {
				t.Errorf("description %q contains a number", desc)
			}
		})
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// A malformed client_id is invalid_request, with the reason, which names
// nothing but the client_id.
func TestOAuthErrorForAMalformedClientID(t *testing.T) {
	t.Parallel()
	r, err := cimd.NewResolver(&cimd.Config{Cache: repo.NewMemoryClientIDMetadataCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"https://A.example/x":      "client_id must be in normal form (RFC 3986 section 6.2.2): https://a.example/x",
		"http://a.example/x":       "client_id must use the https scheme, in lower case",
		`https://a.example/a\..\b`: "client_id must not contain the character U+005C: it is not valid in a URI (RFC 3986 section 2), percent-encode it",
		"https://0x7f.1/x":         "client_id must have a host that is a DNS name (letters, digits and hyphens), an IPv4 address in dotted-decimal form, or an IPv6 address in brackets",
		"":                         "client_id is empty",
	}
	for id, want := range cases {
		_, err := r.Resolve(context.Background(), id)
		code, desc := cimd.OAuthError(err)
		if code != "invalid_request" || desc != want {
			t.Errorf("OAuthError(Resolve(%q)) = %q, %q; want invalid_request, %q", id, code, desc, want)
		}
		if !allowedInDescription(desc) {
			t.Errorf("description %q has characters error_description does not allow", desc)
		}
		// ValidateClientID's error gives the same answer.
		if c, d := cimd.OAuthError(cimd.ValidateClientID(id)); c != code || d != desc {
			t.Errorf("OAuthError(ValidateClientID(%q)) = %q, %q; want %q, %q", id, c, d, code, desc)
		}
	}
	if code, desc := cimd.OAuthError(nil); code != "" || desc != "" {
		t.Errorf("OAuthError(nil) = %q, %q; want nothing", code, desc)
	}
}

// ErrBusy is temporarily_unavailable: the client may try again.
func TestOAuthErrorForBusy(t *testing.T) {
	t.Parallel()
	s := newSlowFetch(t)
	r := newLimitedResolver(t, s, 1, 1)
	first := start(context.Background(), r, "https://a.example/1")
	waitFor(t, "the fetch to start", func() bool { return s.entered.Load() == 1 })
	_, err := r.Resolve(context.Background(), "https://b.example/1")
	if code, desc := cimd.OAuthError(err); code != "temporarily_unavailable" || desc == "" || strings.Contains(desc, "example") {
		t.Errorf("OAuthError(%v) = %q, %q; want temporarily_unavailable without the host", err, code, desc)
	}
	s.open()
	if err := <-first; err != nil {
		t.Error(err)
	}
}
