package sweeper

import (
	"testing"
	"time"
)

func TestWaitsAreJittered(t *testing.T) {
	t.Parallel()
	const interval = time.Minute
	for _, jitter := range []float64{DefaultJitter, 0.5} {
		lo, hi := time.Duration(float64(interval)*(1-jitter)), time.Duration(float64(interval)*(1+jitter))
		minW, maxW := hi, lo
		for range 10_000 {
			w := nextWait(interval, jitter)
			if w < lo || w > hi {
				t.Fatalf("nextWait(%v, %v) = %v, outside [%v, %v]", interval, jitter, w, lo, hi)
			}
			minW, maxW = min(minW, w), max(maxW, w)
		}
		// Uniform over the range: 10,000 draws reach both ends' tenth.
		if spread := hi - lo; minW > lo+spread/10 || maxW < hi-spread/10 {
			t.Errorf("jitter %v: waits span [%v, %v] of [%v, %v]; want them spread over it", jitter, minW, maxW, lo, hi)
		}
	}
	minW, maxW := interval, time.Duration(0)
	for range 10_000 {
		w := firstWait(interval)
		if w < 0 || w >= interval {
			t.Fatalf("firstWait(%v) = %v, outside [0, %v)", interval, w, interval)
		}
		minW, maxW = min(minW, w), max(maxW, w)
	}
	if minW > interval/10 || maxW < interval*9/10 {
		t.Errorf("first waits span [%v, %v]; want them spread over [0, %v)", minW, maxW, interval)
	}
}
