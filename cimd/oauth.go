package cimd

import (
	"context"
	"errors"
	"strings"
)

// The OAuth error codes OAuthError returns (RFC 6749 sections 4.1.2.1 and
// 5.2).
const (
	// CodeInvalidRequest: the client_id is not a valid client identifier
	// URL.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidClient: the client's document could not be fetched, or
	// is not a valid document for it.
	CodeInvalidClient = "invalid_client"
	// CodeTemporarilyUnavailable: the resolver runs as many fetches as it
	// may (ErrBusy), or the caller's own context ended.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	// CodeServerError: the cache failed, or the resolver is misconfigured.
	CodeServerError = "server_error"
)

// OAuthError returns the OAuth error to send for an error from Resolve:
// an error code, and a description fit for the client, free of internal
// detail (no addresses, status codes, TLS or database messages), in the
// characters RFC 6749 allows in error_description. The error itself, with
// every detail, is for logs.
//
// A client_id that is not a valid client identifier URL is
// invalid_request, with the reason (which names only the client_id, for
// example its normal form). Every failure of the client's document (its
// host unreachable or refused, any status but 200, too large, not a valid
// document, rejected by a Rule) is invalid_client, with one fixed
// description per kind. ErrBusy and the caller's own context ending are
// temporarily_unavailable, and anything else server_error.
//
// At the authorization endpoint, a client_id that does not resolve must
// not be redirected to (RFC 6749 section 4.1.2.1): show the error to the
// user instead. A nil err returns two empty strings.
func OAuthError(err error) (code, description string) {
	var idErr *clientIDError
	switch {
	case err == nil:
		return "", ""
	case errors.As(err, &idErr):
		return CodeInvalidRequest, descriptionText("client_id " + idErr.why)
	case errors.Is(err, ErrBusy):
		return CodeTemporarilyUnavailable, "the server is fetching too many client metadata documents; try again later"
	case errors.Is(err, ErrFetch), errors.Is(err, ErrStatus):
		return CodeInvalidClient, "the client metadata document could not be retrieved from the client_id URL"
	case errors.Is(err, ErrTooLarge):
		return CodeInvalidClient, "the client metadata document is larger than this server accepts"
	case errors.Is(err, ErrInvalidDocument):
		return CodeInvalidClient, "the client metadata document at the client_id URL is not valid for this server"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeTemporarilyUnavailable, "the client metadata document could not be resolved in time; try again later"
	}
	return CodeServerError, "the client metadata document could not be resolved"
}

// descriptionText keeps only the characters RFC 6749 allows in
// error_description: printable ASCII except '"' and '\'.
func descriptionText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
