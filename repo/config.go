package repo

import (
	"errors"
	"fmt"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/models"
)

// Config configures a store. A nil *Config means every default.
type Config struct {
	// Now is the clock that decides every expiry, on writes and on reads.
	// Inject one in tests so they never sleep. Default: time.Now.
	Now func() time.Time
	// Limits bound the documents a store accepts. A zero field takes the
	// changesets default: 64 KiB encoded and 32 levels of nesting.
	Limits changesets.Limits
	// MaxPARTTL is the longest ttl a PAR store's Put accepts; a longer one
	// is invalid input and writes nothing. RFC 9126 section 2.2 asks for a
	// short lifetime, and a request_uri lives only until the client
	// redirects the user. Default (zero): DefaultMaxPARTTL.
	MaxPARTTL time.Duration
	// CIMDGetFromReplicas lets the CIMD cache's Get read a replica when
	// the *gorm.DB routes reads with gorm.io/plugin/dbresolver. It is an
	// opt-in: for as long as a replica lags, a document another node just
	// Put may be missed there (and fetched again), and one it Deleted (a
	// compromised document's eviction) may still be served. Default
	// (false): every read of every store runs on the primary. PAR reads
	// always do, whatever this says: a request_uri pushed on one node must
	// resolve on every other at once.
	CIMDGetFromReplicas bool
}

// DefaultMaxPARTTL is Config.MaxPARTTL's default.
const DefaultMaxPARTTL = 10 * time.Minute

// settings are a Config with its defaults filled in.
type settings struct {
	now          func() time.Time
	limits       changesets.Limits
	maxPARTTL    time.Duration
	cimdReplicas bool
}

func (c *Config) settings() settings {
	s := settings{now: time.Now, maxPARTTL: DefaultMaxPARTTL}
	if c == nil {
		return s
	}
	if c.Now != nil {
		s.now = c.Now
	}
	s.limits = c.Limits
	if c.MaxPARTTL > 0 {
		s.maxPARTTL = c.MaxPARTTL
	}
	s.cimdReplicas = c.CIMDGetFromReplicas
	return s
}

// castPAR validates a PAR Put: ttl first, in the caller's terms, then the
// row through its changeset.
func (s settings) castPAR(requestURI string, params map[string]any, ttl time.Duration) (models.PushedAuthorizationRequest, error) {
	var ttlErr *changesets.Error
	switch {
	case ttl <= 0:
		ttlErr = changesets.NewError("expires_at", fmt.Sprintf("must be after inserted_at: the ttl %v is not positive", ttl), nil)
	case ttl > s.maxPARTTL:
		ttlErr = changesets.NewError("expires_at", fmt.Sprintf("is too far ahead: the ttl %v exceeds the store's maximum of %v (Config.MaxPARTTL)", ttl, s.maxPARTTL), nil)
	}
	now := s.now()
	row, err := changesets.PushedAuthorizationRequest{
		RequestURI: requestURI, Params: params, ExpiresAt: now.Add(ttl), InsertedAt: now,
	}.Cast(s.limits)
	if ttlErr != nil {
		// Report every failing field, in the columns' order, the ttl's in
		// the caller's terms rather than the changeset's comparison of two
		// times.
		var cs *changesets.Error
		if !errors.As(err, &cs) {
			return row, ttlErr
		}
		merged := &changesets.Error{}
		for _, f := range cs.Fields {
			switch f.Field {
			case "expires_at":
			case "inserted_at":
				merged.Fields = append(merged.Fields, ttlErr.Fields...)
				ttlErr.Fields = nil
				merged.Fields = append(merged.Fields, f)
			default:
				merged.Fields = append(merged.Fields, f)
			}
		}
		merged.Fields = append(merged.Fields, ttlErr.Fields...)
		return row, merged
	}
	return row, err
}
