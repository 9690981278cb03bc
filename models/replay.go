package models

// Replay is one presented one-time identifier: the jti of a client
// assertion (RFC 7523) or of a DPoP proof (RFC 9449), remembered until
// the token it came from expires, so that a second presentation on any
// node is recognised as a replay.
type Replay struct {
	// JTI is the identifier, and the primary key: recording it is one
	// insert that a unique violation turns away.
	JTI string `gorm:"column:jti;type:text;primaryKey;not null"`
	// ExpiresAt is when the token carrying the jti expires; after it the
	// jti may be forgotten, since the token is refused on its expiry alone.
	ExpiresAt Time `gorm:"column:expires_at;type:timestamptz;not null;index:dpop_replays_expires_at_index"`
}

// ReplayTable is the table name shared with attesto_phoenix's
// EctoReplayCheck.
const ReplayTable = "dpop_replays"

// TableName implements GORM's schema.Tabler.
func (Replay) TableName() string { return ReplayTable }
