package changesets

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/attesto/gormstore/models"
)

// ClientSecretParams are the client authentication parameters a pushed
// request may carry (RFC 9126 section 2.1 lets the client authenticate in
// the push). They authenticate the push itself and are never stored.
var ClientSecretParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// PushedAuthorizationRequest is the put changeset of a pushed
// authorization request.
type PushedAuthorizationRequest struct {
	RequestURI string         `json:"request_uri" validate:"required,maxbytes=2048,text"`
	Params     map[string]any `json:"params" validate:"required"`
	ExpiresAt  time.Time      `json:"expires_at" validate:"required,storable,gtfield=InsertedAt"`
	InsertedAt time.Time      `json:"inserted_at" validate:"required,storable"`
}

// Cast validates p and returns the row to insert, with ClientSecretParams
// removed from the stored params (p.Params itself is left untouched). A
// missing ExpiresAt is an error, never a reference that does not expire.
//
// The params must hold client_id as a non-empty JSON string (RFC 6749
// section 4.1.1 requires it), judged on the encoded document: a named
// string type or a json.RawMessage holding a JSON string counts, an array
// (a url.Values copied as it is), a number or null does not. Stores bind
// a request to that string, so a request without one could never be
// fetched for its client.
func (p PushedAuthorizationRequest) Cast(lim Limits) (models.PushedAuthorizationRequest, error) {
	p.ExpiresAt = normalizeTime(p.ExpiresAt)
	p.InsertedAt = normalizeTime(p.InsertedAt)
	errs := check(&p, nil)
	row := models.PushedAuthorizationRequest{RequestURI: p.RequestURI, ExpiresAt: models.NewTime(p.ExpiresAt), InsertedAt: models.NewTime(p.InsertedAt)}
	if p.Params != nil {
		doc, msg := encodeDocument(withoutSecrets(p.Params), lim.withDefaults())
		if msg == "" {
			msg = clientIDProblem(doc)
		}
		if msg != "" {
			errs = append(errs, FieldError{Field: "params", Message: msg})
		}
		row.Params = doc
	}
	if len(errs) > 0 {
		return models.PushedAuthorizationRequest{}, &Error{Fields: sortFields(errs, pushedAuthorizationRequestFields)}
	}
	return row, nil
}

var pushedAuthorizationRequestFields = []string{"request_uri", "params", "expires_at", "inserted_at"}

// withoutSecrets returns params without ClientSecretParams, copying only
// when there is something to drop.
func withoutSecrets(params map[string]any) map[string]any {
	found := false
	for _, k := range ClientSecretParams {
		if _, ok := params[k]; ok {
			found = true
			break
		}
	}
	if !found {
		return params
	}
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = v
	}
	for _, k := range ClientSecretParams {
		delete(out, k)
	}
	return out
}

// clientIDProblem returns what is wrong with the client_id member of doc,
// or "" when it is a non-empty string. doc is a top-level object encoded
// by encodeDocument: compact, with unique member names written as
// encoding/json writes them, so "client_id" matches byte for byte, as the
// stores' JSON operators match it.
func clientIDProblem(doc []byte) string {
	const want = "client_id: must be a non-empty string (RFC 6749 section 4.1.1), got "
	v := memberValue(doc, "client_id")
	if v == nil {
		return want + "none"
	}
	switch v[0] {
	case '"':
		if v[1] == '"' {
			return want + "an empty string"
		}
		// The lookups for a client take only a valid key; a client_id
		// they could never match would make the request unreachable. (The
		// document check has already refused NUL and invalid UTF-8.)
		end, _ := scanString(v, 1)
		var id string
		if err := json.Unmarshal(v[:end+1], &id); err != nil || !ValidKey(id) {
			return fmt.Sprintf("client_id: must be at most %d bytes", MaxKeyBytes)
		}
		return ""
	case '[':
		return want + "an array"
	case '{':
		return want + "an object"
	case 'n':
		return want + "null"
	case 't', 'f':
		return want + "a boolean"
	default:
		return want + "a number"
	}
}

// memberValue returns doc from the start of the value of its top-level
// member name, or nil when there is none. In compact JSON a string at the
// top level that follows '{' or ',' is a member name; one that follows ':'
// is a value.
func memberValue(doc []byte, name string) []byte {
	depth := 0
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end, _ := scanString(doc, i+1)
			if depth == 1 && (doc[i-1] == '{' || doc[i-1] == ',') && string(doc[i+1:end]) == name {
				return doc[end+2:]
			}
			i = end
		}
	}
	return nil
}
