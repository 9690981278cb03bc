package cimd

import "errors"

// The sentinel errors. Every error the package returns wraps one of them
// (or, from Resolve, the caller's context error), so callers branch with
// errors.Is. Their text has no package prefix because it always comes
// after one: the returned error reads "cimd: <operation>: <sentinel>:
// <cause>".
//
// These errors are for logs: they name addresses, statuses and TLS
// failures. What to tell the OAuth client is OAuthError's answer.
var (
	// ErrConfig: NewResolver was given a configuration it cannot run with,
	// such as no cache, or a method was called on a nil or zero Resolver.
	ErrConfig = errors.New("invalid configuration")
	// ErrInvalidClientID: the client_id is not a URL the draft allows
	// (section 3), or not in normal form. Nothing was fetched.
	ErrInvalidClientID = errors.New("invalid client_id URL")
	// ErrBusy: the resolver already runs as many fetches as
	// Config.MaxConcurrentFetches allows, or as many for the client_id's
	// host as Config.MaxFetchesPerHost allows. Nothing was fetched and
	// nothing waits: a later Resolve may succeed.
	ErrBusy = errors.New("too many fetches in flight")
	// ErrFetch: the fetch itself failed (DNS, connection, TLS, timeout,
	// or a FetchFunc error), or the shared fetch panicked.
	ErrFetch = errors.New("fetch failed")
	// ErrForbiddenAddress: the default transport refused to connect to
	// the address the client_id's host resolved to, a special-use address
	// (draft section 6.5). It comes wrapped with ErrFetch.
	ErrForbiddenAddress = errors.New("special-use address refused")
	// ErrStatus: the document host answered with a status other than 200,
	// a redirect included (section 4: redirects are not followed).
	ErrStatus = errors.New("unexpected HTTP status")
	// ErrTooLarge: the document is larger than the configured maximum.
	ErrTooLarge = errors.New("document too large")
	// ErrInvalidDocument: the response is not a valid Client ID Metadata
	// Document (section 4.1): a Content-Type other than JSON, a body that
	// is not one JSON object (or nests deeper than MaxDocumentDepth), a
	// document failing ValidateDocument or a caller's Rule, a cached entry
	// failing them (which is then evicted), or a document the cache
	// refused to store (nested too deep, NUL characters).
	ErrInvalidDocument = errors.New("invalid client metadata document")
	// ErrCache: the cache failed to read, store or delete; its own error
	// (a database error, or the store's validation error) is wrapped as
	// well.
	ErrCache = errors.New("cache failed")
)
