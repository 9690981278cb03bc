package dialect

import "errors"

// ErrNoDB is the one value behind repo.ErrNoDB and sweeper.ErrNoDB, so
// that a caller's errors.Is holds whichever package returned it.
var ErrNoDB = errors.New("no database")
