package sweeper

import (
	"math/rand/v2"
	"time"
)

// firstWait spreads the first pass over a whole interval: nodes of one
// deployment usually start within seconds of each other, and a jitter of
// a fraction of the interval would keep them close for many passes.
func firstWait(interval time.Duration) time.Duration {
	return rand.N(interval)
}

// nextWait is interval varied by ±jitter×interval, uniformly, so that no
// two nodes keep waking at the same moment.
func nextWait(interval time.Duration, jitter float64) time.Duration {
	f := 1 + jitter*(2*rand.Float64()-1)
	return time.Duration(float64(interval) * f)
}
