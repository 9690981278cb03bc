package gormfosite

import "errors"

// The sentinel errors. Every error the package returns to the application
// wraps one of them, or is a *fosite.RFC6749Error where fosite hands the
// error to the client as it is; both read "gormfosite: <operation>: ...".
var (
	// ErrConfig: a constructor was given a configuration it cannot run
	// with (a required field missing), or a method was called on a nil or
	// zero value.
	ErrConfig = errors.New("invalid configuration")
	// ErrInvalidRequest: CreatePARSession was given a request it cannot
	// store: no client, no session, a session of another type than
	// PARConfig.NewSession makes, or no expiry for the PAR context. Nothing
	// was stored.
	ErrInvalidRequest = errors.New("invalid pushed authorization request")
	// ErrCorrupt: a stored pushed request could not be read back (another
	// format, or a session its NewSession cannot hold). It has been
	// consumed all the same.
	ErrCorrupt = errors.New("unreadable pushed authorization request")
)
