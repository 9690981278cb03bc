package cimd_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo/repotest"
)

func TestHTTPFetchSendsAGETForJSON(t *testing.T) {
	t.Parallel()
	type seen struct{ method, accept, body string }
	got := make(chan seen, 1)
	host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1)
		n, _ := r.Body.Read(b)
		got <- seen{r.Method, r.Header.Get("Accept"), string(b[:n])}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(`{"a":1}`))
	})
	resp, err := cimd.HTTPFetch(host.Client())(context.Background(), cimd.FetchRequest{ClientID: host.clientID("/c")})
	if err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != (seen{http.MethodGet, "application/json", ""}) {
		t.Errorf("request = %+v, want a GET with Accept: application/json and no body", s)
	}
	if resp.StatusCode != 200 || string(resp.Body) != `{"a":1}` || resp.Header.Get("Cache-Control") != "max-age=60" {
		t.Errorf("response = %d %q %v, want 200, the body and the header", resp.StatusCode, resp.Body, resp.Header)
	}
}

// Draft -01 section 4: the server MUST NOT automatically follow redirects.
func TestHTTPFetchDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/moved" {
					http.Redirect(w, r, "/target", code)
					return
				}
				serveDocument(t)(w, r)
			})
			client := host.Client()
			resp, err := cimd.HTTPFetch(client)(context.Background(), cimd.FetchRequest{ClientID: host.clientID("/moved")})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != code || resp.Body != nil {
				t.Errorf("response = %d with %d body bytes, want %d without a body", resp.StatusCode, len(resp.Body), code)
			}
			if n := host.requests.Load(); n != 1 {
				t.Errorf("host got %d requests, want 1: the redirect was followed", n)
			}
			if client.CheckRedirect != nil {
				t.Error("HTTPFetch changed the caller's *http.Client")
			}
		})
	}
}

func TestHTTPFetchReadsAtMostOneByteOverTheLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20)
	host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Write([]byte(big[:1000])) // no Content-Length: streamed
			w.(http.Flusher).Flush()
		}
		w.Write([]byte(big))
	})
	for _, c := range []struct {
		path  string
		limit int64
		want  int
	}{
		{"/big", 100, 101},
		{"/chunked", 100, 101},
		{"/big", 0, cimd.DefaultMaxDocumentBytes + 1},
	} {
		resp, err := cimd.HTTPFetch(host.Client())(context.Background(), cimd.FetchRequest{ClientID: host.clientID(c.path), MaxBytes: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Body) != c.want {
			t.Errorf("%s with limit %d: read %d bytes, want %d", c.path, c.limit, len(resp.Body), c.want)
		}
	}
}

// The request time is read before sending and the response time once the
// response has arrived, both from the clock in the FetchRequest.
func TestHTTPFetchRecordsRequestAndResponseTimes(t *testing.T) {
	t.Parallel()
	clock := repotest.NewClock(repotest.Epoch)
	host := newDocHost(t, func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(3 * time.Second) // the time the host takes to answer
		w.Write([]byte(`{}`))
	})
	resp, err := cimd.HTTPFetch(host.Client())(context.Background(), cimd.FetchRequest{ClientID: host.clientID("/c"), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.RequestTime.Equal(repotest.Epoch) {
		t.Errorf("RequestTime = %v, want %v", resp.RequestTime, repotest.Epoch)
	}
	if want := repotest.Epoch.Add(3 * time.Second); !resp.ResponseTime.Equal(want) {
		t.Errorf("ResponseTime = %v, want %v", resp.ResponseTime, want)
	}
}

// HTTPFetch(nil) is the default fetch: its transport refuses loopback,
// here a plain-HTTP server on 127.0.0.1, before any request is sent.
func TestHTTPFetchNilClientRefusesLoopback(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	resp, err := cimd.HTTPFetch(nil)(context.Background(), cimd.FetchRequest{ClientID: srv.URL + "/c"})
	if !errors.Is(err, cimd.ErrForbiddenAddress) {
		t.Fatalf("HTTPFetch(nil) = %+v, %v; want ErrForbiddenAddress", resp, err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the server got %d requests, want none", n)
	}
}

// A caller's own client keeps its transport, here http.DefaultTransport,
// which has no guard; its errors are returned.
func TestHTTPFetchCallersClientAndTransportErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	t.Cleanup(func() {
		srv.Close()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	fetch := cimd.HTTPFetch(&http.Client{})
	resp, err := fetch(context.Background(), cimd.FetchRequest{ClientID: srv.URL + "/c"})
	if err != nil || resp.StatusCode != 200 || string(resp.Body) != "{}" {
		t.Fatalf("HTTPFetch(&http.Client{}) = %+v, %v; want 200 {}", resp, err)
	}
	if resp.RequestTime.IsZero() || resp.ResponseTime.Before(resp.RequestTime) {
		t.Errorf("times = %v, %v; want real clock readings in order", resp.RequestTime, resp.ResponseTime)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if resp, err := fetch(context.Background(), cimd.FetchRequest{ClientID: closed.URL + "/c"}); err == nil {
		t.Errorf("fetch from a closed server = %+v, want an error", resp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fetch(ctx, cimd.FetchRequest{ClientID: srv.URL + "/c"}); err == nil {
		t.Error("fetch with a cancelled context succeeded")
	}
	if _, err := fetch(context.Background(), cimd.FetchRequest{ClientID: "https://app.example.com/\x00"}); err == nil {
		t.Error("fetch of an unparsable URL succeeded")
	}
}
