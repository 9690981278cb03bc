package changesets

import (
	"errors"
	"strings"
)

// ErrInvalid is matched, through errors.Is, by every validation failure.
var ErrInvalid = errors.New("invalid changeset")

// FieldError is one failing field, named by its column.
type FieldError struct {
	Field   string
	Message string
}

func (f FieldError) String() string { return f.Field + ": " + f.Message }

// Error is a failed changeset. It lists every failing field, in the order
// of the columns, and may carry the cause found by the database (for
// example the store's duplicate-key error), which errors.Is also matches.
type Error struct {
	Fields []FieldError
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// Unwrap makes errors.Is match ErrInvalid and the cause, if any.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// On returns the messages for field, or nil when the field passed.
func (e *Error) On(field string) []string {
	var msgs []string
	for _, f := range e.Fields {
		if f.Field == field {
			msgs = append(msgs, f.Message)
		}
	}
	return msgs
}

// NewError returns an *Error for one field, wrapping cause (which may be
// nil). Stores use it for what only the database can decide, such as a
// request_uri that has already been taken.
func NewError(field, message string, cause error) *Error {
	return &Error{Fields: []FieldError{{Field: field, Message: message}}, Err: cause}
}
