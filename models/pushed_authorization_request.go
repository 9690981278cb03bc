package models

import "gorm.io/datatypes"

// PushedAuthorizationRequest is one pushed authorization request (RFC 9126):
// the validated request parameters behind a one-time request_uri.
type PushedAuthorizationRequest struct {
	// RequestURI is the urn:ietf:params:oauth:request_uri: reference handed
	// to the client, and the primary key.
	RequestURI string `gorm:"column:request_uri;type:text;primaryKey;not null"`
	// Params are the validated authorization request parameters, a JSON
	// object with client authentication secrets already removed.
	Params datatypes.JSON `gorm:"column:params;type:jsonb;not null"`
	// ExpiresAt is re-checked on every read (RFC 9126 section 2.2).
	ExpiresAt Time `gorm:"column:expires_at;type:timestamptz;not null;index:attesto_pushed_authorization_requests_expires_at_index"`
	// InsertedAt is diagnostic only; it is never a lookup key.
	InsertedAt Time `gorm:"column:inserted_at;type:timestamptz;not null"`
}

// PushedAuthorizationRequestTable is the table name shared with
// attesto_phoenix.
const PushedAuthorizationRequestTable = "attesto_pushed_authorization_requests"

// TableName implements GORM's schema.Tabler.
func (PushedAuthorizationRequest) TableName() string { return PushedAuthorizationRequestTable }
