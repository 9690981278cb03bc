package cimd

import (
	"context"
	"io"
	"net/http"
	"time"
)

// DefaultMaxDocumentBytes is the largest document accepted by default: the
// 5 kilobytes draft section 6.6 recommends, read as 5 KiB.
const DefaultMaxDocumentBytes = 5 << 10

// FetchRequest is what a FetchFunc is asked to fetch.
type FetchRequest struct {
	// ClientID is the URL to GET, already checked by ValidateClientID.
	ClientID string
	// MaxBytes is the largest body the resolver accepts. A FetchFunc
	// should read at most MaxBytes+1 bytes: the resolver rejects anything
	// longer as ErrTooLarge, and need not see more to do so.
	MaxBytes int64
	// Now is the resolver's clock, the one the cache compares expires_at
	// with; RequestTime and ResponseTime must be read from it.
	Now func() time.Time
}

// Response is what a FetchFunc got back. Judging it is the resolver's
// job: a FetchFunc returns every response it receives, whatever its status,
// and an error only when it received none.
type Response struct {
	// StatusCode is the HTTP status; anything but 200 is ErrStatus
	// (draft section 4), redirects included.
	StatusCode int
	// Header holds Content-Type, which must be application/json or
	// application/*+json (parameters such as charset allowed), and the
	// caching fields ExpiresAt reads: Cache-Control, Expires, Date and Age.
	Header http.Header
	// Body is the document, at most FetchRequest.MaxBytes+1 bytes of it.
	Body []byte
	// RequestTime is when the request was sent and ResponseTime when the
	// response arrived, read from FetchRequest.Now (RFC 9111 section
	// 4.2.3's request_time and response_time). When zero, the resolver
	// uses its clock's readings just before and just after the call.
	RequestTime, ResponseTime time.Time
}

// FetchFunc fetches the document at req.ClientID, under ctx, which carries
// the resolver's fetch timeout and no caller's cancellation.
type FetchFunc func(ctx context.Context, req FetchRequest) (*Response, error)

// HTTPFetch returns a FetchFunc that GETs the document with client, with
// Accept: application/json. It never follows a redirect: a 3xx is
// returned as it is, which the resolver rejects, because draft -01 section
// 4 says the authorization server "MUST NOT automatically follow HTTP
// redirects when retrieving the client registration information". client
// is copied with that one change.
//
// A nil client is the default fetch's: a client on a NewTransport(nil)
// transport of its own, which refuses special-use addresses (draft
// section 6.5), uses no proxy and bounds response headers.
//
// A non-nil client's Transport and Timeout are used as they are (a nil
// Transport is http.DefaultTransport, which has no guard at all). The
// caller then owns what the default transport would do: refusing
// special-use addresses at dial time (start from NewTransport to keep
// that), proxy settings, TLS roots, and bounds on response headers. The
// resolver still bounds the body, checks the status and Content-Type, and
// limits concurrent fetches.
func HTTPFetch(client *http.Client) FetchFunc {
	c := new(http.Client)
	if client != nil {
		*c = *client
	} else {
		c.Transport = NewTransport(nil)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return func(ctx context.Context, req FetchRequest) (*Response, error) {
		now := req.Now
		if now == nil {
			now = time.Now
		}
		limit := req.MaxBytes
		if limit <= 0 {
			limit = DefaultMaxDocumentBytes
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, req.ClientID, nil)
		if err != nil {
			return nil, err
		}
		hreq.Header.Set("Accept", "application/json")
		requestTime := now()
		resp, err := c.Do(hreq)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out := &Response{
			StatusCode:   resp.StatusCode,
			Header:       resp.Header,
			RequestTime:  requestTime,
			ResponseTime: now(),
		}
		if resp.StatusCode != http.StatusOK {
			return out, nil // the body of an error is not needed
		}
		// One byte more than allowed is enough to know it is too large,
		// whatever Content-Length says or omits.
		if out.Body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1)); err != nil {
			return nil, err
		}
		return out, nil
	}
}
