package changesets_test

import (
	"maps"
	"strings"
	"time"

	"github.com/attesto/gormstore/changesets"
)

// input is what both changesets hold, under their own field names.
type input struct {
	Key        string
	Doc        map[string]any
	ExpiresAt  time.Time
	InsertedAt time.Time
}

// row is what both models hold, under their own field names.
type row struct {
	Key        string
	Doc        []byte
	ExpiresAt  time.Time
	InsertedAt time.Time
}

// kind is one changeset type, so that the rules both share are tested on
// both with one table.
type kind struct {
	name     string
	keyField string // column of the key, as errors name it
	docField string // column of the document, as errors name it
	cast     func(in input, lim changesets.Limits) (row, error)
}

func kinds() []kind {
	return []kind{
		{
			name:     "ClientIDMetadata",
			keyField: "url",
			docField: "metadata",
			cast: func(in input, lim changesets.Limits) (row, error) {
				r, err := changesets.ClientIDMetadata{
					URL:        in.Key,
					Metadata:   in.Doc,
					ExpiresAt:  in.ExpiresAt,
					InsertedAt: in.InsertedAt,
				}.Cast(lim)
				return row{Key: r.URL, Doc: r.Metadata, ExpiresAt: r.ExpiresAt.Time, InsertedAt: r.InsertedAt.Time}, err
			},
		},
		{
			name:     "PushedAuthorizationRequest",
			keyField: "request_uri",
			docField: "params",
			cast: func(in input, lim changesets.Limits) (row, error) {
				r, err := changesets.PushedAuthorizationRequest{
					RequestURI: in.Key,
					Params:     in.Doc,
					ExpiresAt:  in.ExpiresAt,
					InsertedAt: in.InsertedAt,
				}.Cast(lim)
				return row{Key: r.RequestURI, Doc: r.Params, ExpiresAt: r.ExpiresAt.Time, InsertedAt: r.InsertedAt.Time}, err
			},
		},
	}
}

// Fixed instants, in UTC at whole seconds, so that nothing depends on the
// clock and normalisation leaves them unchanged.
var (
	insertedAt = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)
	expiresAt  = insertedAt.Add(time.Hour)
)

const (
	cimdURL    = "https://client.example/metadata.json"
	requestURI = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"
)

// validInput returns an input every kind accepts, with its own key.
func validInput(k kind) input {
	key := cimdURL
	if k.keyField == "request_uri" {
		key = requestURI
	}
	return input{
		Key:        key,
		Doc:        complete(k, map[string]any{"client_name": "Example", "redirect_uris": []any{"https://client.example/cb"}}),
		ExpiresAt:  expiresAt,
		InsertedAt: insertedAt,
	}
}

// complete returns a copy of doc holding the members k requires, so that
// a test of something else gets past them: a pushed request's params need
// a client_id (RFC 6749 section 4.1.1). A member doc already has is kept.
func complete(k kind, doc map[string]any) map[string]any {
	out := maps.Clone(doc)
	if k.docField == "params" {
		if _, ok := out["client_id"]; !ok {
			out["client_id"] = "c"
		}
	}
	return out
}

// keyOfLen returns a URL-shaped key of exactly n bytes (n >= 24).
func keyOfLen(n int) string {
	const prefix = "https://client.example/"
	return prefix + strings.Repeat("a", n-len(prefix))
}
