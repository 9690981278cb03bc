package changesets

import (
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
func (p PushedAuthorizationRequest) Cast(lim Limits) (models.PushedAuthorizationRequest, error) {
	p.ExpiresAt = normalizeTime(p.ExpiresAt)
	p.InsertedAt = normalizeTime(p.InsertedAt)
	errs := check(&p, nil)
	row := models.PushedAuthorizationRequest{RequestURI: p.RequestURI, ExpiresAt: p.ExpiresAt, InsertedAt: p.InsertedAt}
	if p.Params != nil {
		doc, msg := encodeDocument(withoutSecrets(p.Params), lim.withDefaults())
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
