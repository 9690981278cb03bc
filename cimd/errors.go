package cimd

import "errors"

// The sentinel errors. Every error the package returns wraps one of them
// (or, from Resolve, the caller's context error), so callers branch with
// errors.Is. Their text has no package prefix because it always comes
// after one: the returned error reads "cimd: <operation>: <sentinel>:
// <cause>".
var (
	// ErrConfig: NewResolver was given a configuration it cannot run with,
	// such as no cache, or a method was called on a nil or zero Resolver.
	ErrConfig = errors.New("invalid configuration")
	// ErrInvalidClientID: the client_id is not a URL the draft allows
	// (section 3). Nothing was fetched.
	ErrInvalidClientID = errors.New("invalid client_id URL")
	// ErrFetch: the fetch itself failed (DNS, connection, TLS, timeout,
	// or a FetchFunc error), or the shared fetch panicked.
	ErrFetch = errors.New("fetch failed")
	// ErrStatus: the document host answered with a status other than 200,
	// a redirect included (section 4: redirects are not followed).
	ErrStatus = errors.New("unexpected HTTP status")
	// ErrTooLarge: the document is larger than the configured maximum.
	ErrTooLarge = errors.New("document too large")
	// ErrInvalidDocument: the body is not a valid Client ID Metadata
	// Document (section 4.1), a caller's Rule rejected it, or the cache
	// refused to store it (nested too deep, NUL characters).
	ErrInvalidDocument = errors.New("invalid client metadata document")
	// ErrCache: the cache failed to read or store; its own error (a
	// database error, or repo's validation error) is wrapped as well.
	ErrCache = errors.New("cache failed")
)
