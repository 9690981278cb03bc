package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/models"
	"github.com/attesto/gormstore/repo"
)

// TestMain fails the run if a test leaves a goroutine behind: a server,
// sweeper, pool or connection not closed by the graceful shutdown.
func TestMain(m *testing.M) { testdb.Main(m) }

// A database makes an empty database of the test's own and returns the
// DSN the server is given and a pool on it for the test's own checks.
type database struct {
	name   string
	create func(t *testing.T) (dsn string, db *gorm.DB)
}

var databases = []database{
	{"PostgreSQL", func(t *testing.T) (string, *gorm.DB) {
		schema := testdb.Schema(t)
		u, err := url.Parse(testdb.URL())
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), testdb.Open(t, schema, 2)
	}},
	{"MariaDB", func(t *testing.T) (string, *gorm.DB) {
		name := testdb.MySQLDatabase(t)
		return testdb.MySQLConfig(t, name).FormatDSN(), testdb.OpenMySQL(t, name, 2)
	}},
	{"SQLite", func(t *testing.T) (string, *gorm.DB) {
		path := filepath.Join(t.TempDir(), "authserver.db")
		return path, testdb.OpenSQLite(t, path)
	}},
}

// startServer runs the server as main does, on dsn and a free port, until
// the test ends, and returns its base URL and its log. The shutdown must
// succeed.
func startServer(t *testing.T, dsn string, flags ...string) (string, *testdb.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testdb.Buffer{}
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	args := append([]string{"-dsn", dsn, "-addr", "127.0.0.1:0"}, flags...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, logs, func(addr string) { addrs <- addr })
	}()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		cancel()
		t.Fatalf("the server did not start: %v\n%s", err, logs)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v\n%s", err, logs)
		}
	})
	return "http://" + addr, logs
}

// newClient is a client of the test's own that does not follow redirects,
// so that the test reads the redirect to the client.
func newClient(t *testing.T) *http.Client {
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

// send sends a GET with form as the query, or a POST with form as the body.
func send(t *testing.T, c *http.Client, method, target string, form url.Values, header map[string]string) response {
	t.Helper()
	var body io.Reader
	if method == http.MethodGet {
		target += "?" + form.Encode()
	} else {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// internalText are pieces of the stores', drivers' and resolver's error
// text, lower case: none may reach a response.
var internalText = []string{
	"gormstore", "repo:", "cimd:", "changeset", "gorm", "sql", "pushed_authorization_requests",
	"client_id_metadata", "no such table", "doesn't exist", "does not exist", "relation", "utf-8 text only",
	"nul characters", "x509", "certificate", "tls", "dial", "connection refused", "404", "special-use",
}

// checkError checks that r is the OAuth error response status and code,
// with a description in the characters RFC 6749 allows and free of
// internal text.
func checkError(t *testing.T, r response, status int, code string) {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("status %d, body %q: not a JSON error response: %v", r.status, r.body, err)
	}
	if r.status != status || e["error"] != code {
		t.Fatalf("got %d %q (%q), want %d %q", r.status, e["error"], e["error_description"], status, code)
	}
	if len(e) != 2 || e["error_description"] == "" {
		t.Errorf("body %q: want exactly error and error_description", r.body)
	}
	if ct, cc := r.header.Get("Content-Type"), r.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q: want application/json, no-store", ct, cc)
	}
	for _, c := range e["error_description"] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description %q has %q, outside RFC 6749's characters", e["error_description"], c)
		}
	}
	lower := strings.ToLower(e["error_description"])
	for _, s := range internalText {
		if strings.Contains(lower, s) {
			t.Errorf("error_description %q shows internal text %q", e["error_description"], s)
		}
	}
}

// push pushes form and returns the request_uri of the 201 response.
func push(t *testing.T, c *http.Client, base string, form url.Values) string {
	t.Helper()
	r := send(t, c, http.MethodPost, base+"/par", form, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	if ct, cc := r.header.Get("Content-Type"), r.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("push: Content-Type %q, Cache-Control %q: want application/json, no-store", ct, cc)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	uri, _ := body["request_uri"].(string)
	if len(body) != 2 || !strings.HasPrefix(uri, repo.RequestURIPrefix) || body["expires_in"] != float64(60) {
		t.Fatalf("push: body %s, want request_uri and expires_in 60", r.body)
	}
	return uri
}

func countRequests(t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	return testdb.Count(t, db, models.PushedAuthorizationRequestTable)
}

// documentHost is a local TLS host serving client metadata documents, and
// the file of the CA its certificate is signed by. It counts connections,
// so a test can tell a refused dial from a failed handshake.
type documentHost struct {
	url         string
	caFile      string
	connections atomic.Int64
}

func newDocumentHost(t *testing.T) *documentHost {
	h := &documentHost{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := h.url + r.URL.Path
		var doc map[string]any
		switch r.URL.Path {
		case "/client.json":
			doc = map[string]any{"client_id": id, "client_name": "Example App", "redirect_uris": []string{"https://app.example/cb"}}
		case "/bad-types.json": // redirect_uris must be an array
			doc = map[string]any{"client_id": id, "redirect_uris": "https://app.example/cb"}
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		json.NewEncoder(w).Encode(doc)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			h.connections.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(h.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAuthServer runs the server on each database and drives it over HTTP
// as clients and a user's browser would.
func TestAuthServer(t *testing.T) {
	t.Parallel()
	host := newDocumentHost(t)
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			t.Run("serves", func(t *testing.T) {
				t.Parallel()
				dsn, db := d.create(t)
				base, _ := startServer(t, dsn, "-insecure-allow-loopback-cimd", "-insecure-cimd-ca", host.caFile)
				c := newClient(t)
				// In order: the bad input first, on an empty table.
				t.Run("bad input", func(t *testing.T) { testBadInput(t, c, base, db) })
				t.Run("flow", func(t *testing.T) { testFlow(t, c, base, db) })
				t.Run("cimd", func(t *testing.T) { testCIMD(t, c, base, db, host) })
			})
			t.Run("database failure", func(t *testing.T) {
				t.Parallel()
				dsn, db := d.create(t)
				base, logs := startServer(t, dsn)
				testDatabaseFailure(t, newClient(t), base, db, logs)
			})
		})
	}
}

// pushForm is a valid pushed request of client, with changes applied
// (an empty value deletes the parameter).
func pushForm(client string, changes url.Values) url.Values {
	form := url.Values{
		"client_id":     {client},
		"response_type": {"code"},
		"redirect_uri":  {"https://client.example/cb?tenant=7"},
		"scope":         {"openid profile"},
		"state":         {"xyz"},
	}
	for k, v := range changes {
		if len(v) == 1 && v[0] == "" {
			delete(form, k)
		} else {
			form[k] = v
		}
	}
	return form
}

// testBadInput sends requests every one of which must fail as the
// specifications say, and write nothing.
func testBadInput(t *testing.T, c *http.Client, base string, db *gorm.DB) {
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		header map[string]string
		status int
		code   string
	}{
		{name: "repeated parameter", path: "/par", form: pushForm("client-a", url.Values{"scope": {"openid", "email"}}), status: 400, code: "invalid_request"},
		{name: "repeated client_id", path: "/par", form: pushForm("client-a", url.Values{"client_id": {"client-a", "client-b"}}), status: 400, code: "invalid_request"},
		{name: "no client_id", path: "/par", form: pushForm("", nil), status: 400, code: "invalid_request"},
		{name: "no redirect_uri", path: "/par", form: pushForm("client-a", url.Values{"redirect_uri": {""}}), status: 400, code: "invalid_request"},
		{name: "relative redirect_uri", path: "/par", form: pushForm("client-a", url.Values{"redirect_uri": {"/cb"}}), status: 400, code: "invalid_request"},
		{name: "demo client redirecting elsewhere", path: "/par", form: pushForm("client-a", url.Values{"redirect_uri": {"https://attacker.test/cb"}}), status: 400, code: "invalid_request"},
		{name: "demo client redirecting over http", path: "/par", form: pushForm("client-a", url.Values{"redirect_uri": {"http://client.example/cb"}}), status: 400, code: "invalid_request"},
		{name: "redirect_uri with fragment", path: "/par", form: pushForm("client-a", url.Values{"redirect_uri": {"https://client.example/cb#x"}}), status: 400, code: "invalid_request"},
		{name: "request_uri pushed", path: "/par", form: pushForm("client-a", url.Values{"request_uri": {"urn:x"}}), status: 400, code: "invalid_request"},
		{name: "response_type token", path: "/par", form: pushForm("client-a", url.Values{"response_type": {"token"}}), status: 400, code: "unsupported_response_type"},
		{name: "client_secret", path: "/par", form: pushForm("client-a", url.Values{"client_secret": {"s3cret"}}), status: 401, code: "invalid_client"},
		{name: "client_assertion", path: "/par", form: pushForm("client-a", url.Values{"client_assertion": {"eyJ"}}), status: 401, code: "invalid_client"},
		{name: "basic authentication", path: "/par", form: pushForm("client-a", nil), header: map[string]string{"Authorization": "Basic Y2xpZW50LWE6czNjcmV0"}, status: 401, code: "invalid_client"},
		// These pass the endpoint's checks and are refused by the store.
		{name: "NUL in a value", path: "/par", form: pushForm("client-a", url.Values{"scope": {"openid\x00"}}), status: 400, code: "invalid_request"},
		{name: "invalid UTF-8", path: "/par", form: pushForm("client-a", url.Values{"scope": {"openid \xff"}}), status: 400, code: "invalid_request"},
		{name: "too large", path: "/par", form: pushForm("client-a", url.Values{"scope": {strings.Repeat("a", maxFormBytes)}}), status: 413, code: "invalid_request"},

		{name: "authorize without request_uri", method: "GET", path: "/authorize", form: url.Values{"client_id": {"client-a"}}, status: 400, code: "invalid_request"},
		{name: "authorize without client_id", method: "GET", path: "/authorize", form: url.Values{"request_uri": {repo.NewRequestURI()}}, status: 400, code: "invalid_request"},
		{name: "authorize with a repeated client_id", method: "GET", path: "/authorize", form: url.Values{"client_id": {"client-a", "client-a"}, "request_uri": {repo.NewRequestURI()}}, status: 400, code: "invalid_request"},
		{name: "authorize an unknown request_uri", method: "GET", path: "/authorize", form: url.Values{"client_id": {"client-a"}, "request_uri": {repo.NewRequestURI()}}, status: 400, code: "invalid_request_uri"},
		{name: "authorize a request_uri that is no URN", method: "GET", path: "/authorize", form: url.Values{"client_id": {"client-a"}, "request_uri": {"x"}}, status: 400, code: "invalid_request_uri"},
		{name: "consent without a decision", path: "/authorize/consent", form: url.Values{"client_id": {"client-a"}, "request_uri": {repo.NewRequestURI()}}, status: 400, code: "invalid_request"},
		{name: "consent for an unknown request_uri", path: "/authorize/consent", form: url.Values{"client_id": {"client-a"}, "request_uri": {repo.NewRequestURI()}, "decision": {"approve"}}, status: 400, code: "invalid_request_uri"},
		{name: "consent cross-site", path: "/authorize/consent", form: url.Values{"client_id": {"client-a"}, "request_uri": {repo.NewRequestURI()}, "decision": {"approve"}}, header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403, code: "invalid_request"},
	}
	for _, tt := range tests {
		method := tt.method
		if method == "" {
			method = http.MethodPost
		}
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, send(t, c, method, base+tt.path, tt.form, tt.header), tt.status, tt.code)
		})
	}
	if n := countRequests(t, db); n != 0 {
		t.Errorf("bad input stored %d requests", n)
	}
}

// testFlow pushes, authorizes as another client, then as the owner, and
// replays.
func testFlow(t *testing.T, c *http.Client, base string, db *gorm.DB) {
	uri := push(t, c, base, pushForm("client-a", nil))
	authorize := func(client string) response {
		return send(t, c, http.MethodGet, base+"/authorize", url.Values{"client_id": {client}, "request_uri": {uri}}, nil)
	}
	consent := func(client, decision string, header map[string]string) response {
		return send(t, c, http.MethodPost, base+"/authorize/consent", url.Values{"client_id": {client}, "request_uri": {uri}, "decision": {decision}}, header)
	}

	// Another client can neither read nor take it, nor burn it.
	checkError(t, authorize("client-b"), 400, "invalid_request_uri")
	checkError(t, consent("client-b", "approve", nil), 400, "invalid_request_uri")
	// Neither burn it: a cross-site post, a decision that is neither.
	checkError(t, consent("client-a", "approve", map[string]string{"Sec-Fetch-Site": "cross-site"}), 403, "invalid_request")
	checkError(t, consent("client-a", "maybe", nil), 400, "invalid_request")

	// The owner sees the consent page, as often as the user reloads it.
	for range 2 {
		r := authorize("client-a")
		if r.status != http.StatusOK || !strings.Contains(r.body, "openid profile") || !strings.Contains(r.body, `value="`+uri+`"`) {
			t.Fatalf("consent page: %d %s", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("consent page headers: %v", r.header)
		}
	}
	if n := countRequests(t, db); n != 1 {
		t.Fatalf("%d requests stored, want 1", n)
	}

	// Approved: the request is consumed and the user goes back with a code.
	r := consent("client-a", "approve", nil)
	location := redirectQuery(t, r, "https://client.example/cb")
	if location.Get("code") == "" || location.Get("state") != "xyz" || location.Get("tenant") != "7" || location.Has("error") {
		t.Errorf("redirect %s: want code, state xyz and the redirect_uri's own query", r.header.Get("Location"))
	}
	if n := countRequests(t, db); n != 0 {
		t.Errorf("%d requests stored after the approval, want 0", n)
	}
	// Once only.
	checkError(t, consent("client-a", "approve", nil), 400, "invalid_request_uri")
	checkError(t, authorize("client-a"), 400, "invalid_request_uri")

	// Denied: consumed as well, and the client told access_denied.
	uri = push(t, c, base, pushForm("client-a", nil))
	location = redirectQuery(t, consent("client-a", "deny", nil), "https://client.example/cb")
	if location.Get("error") != "access_denied" || location.Get("state") != "xyz" || location.Has("code") {
		t.Errorf("redirect %v: want error access_denied and state xyz, no code", location)
	}
	checkError(t, consent("client-a", "approve", nil), 400, "invalid_request_uri")
}

// redirectQuery checks that r redirects to base (scheme, host and path)
// and returns the redirect's query.
func redirectQuery(t *testing.T, r response, base string) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("got %d %s, want a redirect (303)", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != base {
		t.Fatalf("redirect to %s, want %s", u, base)
	}
	return u.Query()
}

// testCIMD pushes for clients whose client_id is the URL of their metadata
// document on host.
func testCIMD(t *testing.T, c *http.Client, base string, db *gorm.DB, host *documentHost) {
	client := host.url + "/client.json"
	registered := url.Values{"redirect_uri": {"https://app.example/cb"}}
	failures := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"redirect_uri not registered", pushForm(client, nil), 400, "invalid_request"},
		{"no document", pushForm(host.url+"/missing.json", registered), 401, "invalid_client"},
		{"redirect_uris not an array", pushForm(host.url+"/bad-types.json", registered), 401, "invalid_client"},
		{"client_id not in normal form", pushForm(host.url+"/x/../client.json", registered), 400, "invalid_request"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, send(t, c, http.MethodPost, base+"/par", tt.form, nil), tt.status, tt.code)
		})
	}
	if n := countRequests(t, db); n != 0 {
		t.Fatalf("refused pushes stored %d requests", n)
	}

	uri := push(t, c, base, pushForm(client, registered))
	r := send(t, c, http.MethodGet, base+"/authorize", url.Values{"client_id": {client}, "request_uri": {uri}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("consent page: %d %s", r.status, r.body)
	}
	r = send(t, c, http.MethodPost, base+"/authorize/consent", url.Values{"client_id": {client}, "request_uri": {uri}, "decision": {"approve"}}, nil)
	if q := redirectQuery(t, r, "https://app.example/cb"); q.Get("code") == "" || q.Get("state") != "xyz" {
		t.Errorf("redirect %v: want code and state xyz", q)
	}
}

// testDatabaseFailure drops the store's table under the running server:
// every endpoint then answers server_error, and logs the cause.
func testDatabaseFailure(t *testing.T, c *http.Client, base string, db *gorm.DB, logs *testdb.Buffer) {
	uri := push(t, c, base, pushForm("client-a", nil))
	testdb.MustExec(t, db, "DROP TABLE "+models.PushedAuthorizationRequestTable)
	requests := []struct {
		name, method, path string
		form               url.Values
	}{
		{"push", http.MethodPost, "/par", pushForm("client-a", nil)},
		{"authorize", http.MethodGet, "/authorize", url.Values{"client_id": {"client-a"}, "request_uri": {uri}}},
		{"consent", http.MethodPost, "/authorize/consent", url.Values{"client_id": {"client-a"}, "request_uri": {uri}, "decision": {"approve"}}},
	}
	for _, tt := range requests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, send(t, c, tt.method, base+tt.path, tt.form, nil), 500, "server_error")
		})
	}
	// The cause is in the log, once per request, with the path.
	var logged int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, `msg="request failed"`) &&
			strings.Contains(line, models.PushedAuthorizationRequestTable) {
			logged++
		}
	}
	if logged != len(requests) {
		t.Errorf("%d failures logged with their cause, want %d:\n%s", logged, len(requests), logs)
	}
}

// TestCIMDLoopbackNeedsOptIn: without -insecure-allow-loopback-cimd, the
// resolver's default transport does not even connect to a document host
// on loopback.
func TestCIMDLoopbackNeedsOptIn(t *testing.T) {
	t.Parallel()
	host := newDocumentHost(t)
	path := filepath.Join(t.TempDir(), "authserver.db")
	db := testdb.OpenSQLite(t, path)
	base, _ := startServer(t, path)
	c := newClient(t)
	form := pushForm(host.url+"/client.json", url.Values{"redirect_uri": {"https://app.example/cb"}})
	checkError(t, send(t, c, http.MethodPost, base+"/par", form, nil), 401, "invalid_client")
	if n := host.connections.Load(); n != 0 {
		t.Errorf("the resolver connected to the loopback host %d times", n)
	}
	if n := countRequests(t, db); n != 0 {
		t.Errorf("%d requests stored", n)
	}
}

// TestRunRefusesBadFlags: what run refuses before it opens anything.
func TestRunRefusesBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no database", nil, "no database"},
		{"CA without loopback", []string{"-dsn", "x.db", "-insecure-cimd-ca", "ca.pem"}, "needs -insecure-allow-loopback-cimd"},
		{"unknown flag", []string{"-dns", "x.db"}, "not defined"},
		// Not taken for a SQLite file of that name.
		{"PostgreSQL keyword DSN", []string{"-dsn", "host=localhost dbname=app"}, "-dsn: not a postgres:// URL"},
		{"mysql URL", []string{"-dsn", "mysql://root@localhost/app"}, "-dsn: not a postgres:// URL"},
		{"sqlite: prefix", []string{"-dsn", "sqlite:app.db"}, "-dsn: not a postgres:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard, func(string) {
				t.Error("the server started")
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestPutError: a request_uri collision is the server's failure even
// when the store's error also matches changesets.ErrInvalid.
func TestPutError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"duplicate", fmt.Errorf("repo: par put: %w", repo.ErrDuplicate), 500, "server_error"},
		{"duplicate as a changeset error", changesets.NewError("request_uri", "has already been taken", repo.ErrDuplicate), 500, "server_error"},
		{"invalid", changesets.NewError("params", "must not contain NUL characters", nil), 400, "invalid_request"},
		{"database", errors.New("connection reset"), 500, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if e := putError(tt.err); e.status != tt.status || e.code != tt.code {
				t.Errorf("got %d %s, want %d %s", e.status, e.code, tt.status, tt.code)
			}
		})
	}
}
