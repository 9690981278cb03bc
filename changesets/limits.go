package changesets

import "github.com/attesto/gormstore/internal/jsondoc"

// MaxKeyBytes is the longest url or request_uri accepted, in bytes.
const MaxKeyBytes = 2048

// Default limits for a stored JSON document.
const (
	// DefaultMaxDocumentBytes is the default limit on a document's encoded
	// size. The CIMD draft suggests 5 kB for a fetched document; the store
	// allows more so that PAR params with request objects and
	// authorization_details fit.
	DefaultMaxDocumentBytes = 64 << 10
	// DefaultMaxDepth is the default limit on a document's nesting of
	// objects and arrays; client metadata (with an inline jwks) and
	// authorization_details need far fewer levels.
	DefaultMaxDepth = 32
)

// Limits bounds the documents a changeset accepts. A zero field means its
// default.
type Limits struct {
	// MaxDocumentBytes is the largest encoded JSON document, in bytes.
	// Default: DefaultMaxDocumentBytes.
	MaxDocumentBytes int
	// MaxDepth is the deepest nesting of objects and arrays, the top-level
	// object counting as 1. Default: DefaultMaxDepth. At most 512: the
	// stores refuse to read back anything deeper (a parser's recursion is
	// what a hostile document would attack), so a larger value means 512.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	l.MaxDepth = min(l.MaxDepth, jsondoc.MaxDepth)
	return l
}
