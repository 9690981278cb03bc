package repotest

import (
	"strings"

	"github.com/attesto/gormstore/changesets"
)

// Options describe the store under test. A nil *Options means every
// default.
type Options struct {
	// MaxKeyBytes is the longest key, in bytes of ASCII, the store holds.
	// Default: changesets.MaxKeyBytes. attesto_phoenix's varchar(255)
	// tables hold 255.
	MaxKeyBytes int
}

func (o *Options) maxKeyBytes() int {
	if o == nil || o.MaxKeyBytes <= 0 {
		return changesets.MaxKeyBytes
	}
	return o.MaxKeyBytes
}

// longKey returns prefix padded to n bytes.
func longKey(prefix string, n int) string {
	return prefix + strings.Repeat("k", n-len(prefix))
}
