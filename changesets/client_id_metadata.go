package changesets

import (
	"time"

	"github.com/attesto/gormstore/models"
)

// ClientIDMetadata is the put changeset of a cached Client ID Metadata
// Document: the fetched, validated document and its freshness.
type ClientIDMetadata struct {
	URL        string         `json:"url" validate:"required,maxbytes=2048,text"`
	Metadata   map[string]any `json:"metadata" validate:"required"`
	ExpiresAt  time.Time      `json:"expires_at" validate:"required,storable,gtfield=InsertedAt"`
	InsertedAt time.Time      `json:"inserted_at" validate:"required,storable"`
}

// Cast validates c and returns the row to upsert. A missing ExpiresAt is an
// error, never an entry that does not expire: a cached document must fail
// closed once it is stale. Times are stored in UTC at microsecond precision,
// PostgreSQL's, so the row reads back equal to what was cast.
func (c ClientIDMetadata) Cast(lim Limits) (models.ClientIDMetadata, error) {
	c.ExpiresAt = normalizeTime(c.ExpiresAt)
	c.InsertedAt = normalizeTime(c.InsertedAt)
	errs := check(&c, nil)
	row := models.ClientIDMetadata{URL: c.URL, ExpiresAt: models.NewTime(c.ExpiresAt), InsertedAt: models.NewTime(c.InsertedAt)}
	if c.Metadata != nil {
		doc, msg := encodeDocument(c.Metadata, lim.withDefaults())
		if msg != "" {
			errs = append(errs, FieldError{Field: "metadata", Message: msg})
		}
		row.Metadata = doc
	}
	if len(errs) > 0 {
		return models.ClientIDMetadata{}, &Error{Fields: sortFields(errs, clientIDMetadataFields)}
	}
	return row, nil
}

var clientIDMetadataFields = []string{"url", "metadata", "expires_at", "inserted_at"}
