package gormfosite

import (
	"context"
	"net/http"

	"github.com/ory/fosite"
)

type presentingClientKey struct{}

// WithPresentingClient returns ctx carrying clientID as the client that
// presents a request_uri at the authorization endpoint: the client_id of
// the request, before anything is authenticated. Call it in the
// authorization handler and pass the result to fosite's
// NewAuthorizeRequest; PARStorage.GetPARSession then resolves the
// request_uri only if clientID pushed it, in the same statement, so another
// client neither reads the pushed request nor consumes it.
//
// Without it, GetPARSession binds to the client_id of the request fosite
// itself put in ctx (fosite.RequestContextKey), the value fosite compares
// only after it has consumed the request_uri; only a ctx with neither falls
// back to an unbound Take.
func WithPresentingClient(ctx context.Context, clientID string) context.Context {
	return context.WithValue(ctx, presentingClientKey{}, clientID)
}

// PresentingClient returns the client presenting a request_uri in ctx, as
// GetPARSession decides it: WithPresentingClient's value first, then the
// client_id form value of the request fosite's NewAuthorizeRequest put in
// ctx. ok is false when ctx holds neither.
func PresentingClient(ctx context.Context) (clientID string, ok bool) {
	if id, ok := ctx.Value(presentingClientKey{}).(string); ok {
		return id, true
	}
	// NewAuthorizeRequest parses the form before it asks for the PAR
	// session, and compares this very value with the pushed request's
	// client afterwards; an unparsed form is not one fosite put there.
	if r, ok := ctx.Value(fosite.RequestContextKey).(*http.Request); ok && r != nil && r.Form != nil {
		return r.Form.Get("client_id"), true
	}
	return "", false
}
