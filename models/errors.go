package models

import "errors"

// ErrNotTime is matched, through errors.Is, by a Scan into a Time of a
// value that is not a time in a form the tables hold.
var ErrNotTime = errors.New("not a time as the tables hold it")
