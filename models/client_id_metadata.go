package models

import "gorm.io/datatypes"

// ClientIDMetadata is one cached, already validated Client ID Metadata
// Document, keyed by the client_id URL it was fetched from.
type ClientIDMetadata struct {
	// URL is the CIMD client_id, and the primary key: a lookup hits the
	// key directly and a re-fetch upserts the one row.
	URL string `gorm:"column:url;type:text;primaryKey;not null"`
	// Metadata is the validated client metadata, a JSON object.
	Metadata datatypes.JSON `gorm:"column:metadata;type:jsonb;not null"`
	// ExpiresAt is re-checked on every read: an unswept expired row is a
	// miss, never a stale hit.
	ExpiresAt Time `gorm:"column:expires_at;type:timestamptz;not null;index:attesto_client_id_metadata_expires_at_index"`
	// InsertedAt is diagnostic only; it is never a lookup key.
	InsertedAt Time `gorm:"column:inserted_at;type:timestamptz;not null"`
}

// ClientIDMetadataTable is the table name shared with attesto_phoenix.
const ClientIDMetadataTable = "attesto_client_id_metadata"

// TableName implements GORM's schema.Tabler.
func (ClientIDMetadata) TableName() string { return ClientIDMetadataTable }
