// Package changesets validates and casts input into rows, in the role of
// attesto_phoenix's Ecto put_changeset/2.
//
// A changeset is a plain struct whose fields carry go-playground/validator
// tags; Cast checks every field, encodes the JSON document and returns the
// row ready to insert, or an *Error listing every failing field in Ecto's
// words ("expires_at: can't be blank"). Every failure matches
// errors.Is(err, ErrInvalid), and nothing is written for it.
//
// Cast rejects what PostgreSQL could not store or would not give back
// unchanged: keys that are empty, longer than MaxKeyBytes, not UTF-8 or
// holding NUL; documents that are nil, not encodable as JSON (NaN, channels),
// holding a NUL or invalid UTF-8 in any string, larger or deeper than the
// Limits; and expiries that are missing or not after the insertion time.
// A pushed request's params must also hold client_id as a non-empty JSON
// string (RFC 6749 section 4.1.1), the client its request_uri binds to.
package changesets
