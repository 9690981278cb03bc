package repo

import (
	"time"

	"github.com/attesto/gormstore/changesets"
)

// Config configures a store. A nil *Config means every default.
type Config struct {
	// Now is the clock that decides every expiry, on writes and on reads.
	// Inject one in tests so they never sleep. Default: time.Now.
	Now func() time.Time
	// Limits bound the documents a store accepts. A zero field takes the
	// changesets default: 64 KiB encoded and 32 levels of nesting.
	Limits changesets.Limits
}

// settings are a Config with its defaults filled in.
type settings struct {
	now    func() time.Time
	limits changesets.Limits
}

func (c *Config) settings() settings {
	s := settings{now: time.Now}
	if c == nil {
		return s
	}
	if c.Now != nil {
		s.now = c.Now
	}
	s.limits = c.Limits
	return s
}
