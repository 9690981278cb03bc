package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records latencies in fixed memory, however long the bench
// runs, to within 1/64 (1.6%) of each value: log-linear buckets, 64 per
// power of two above 128 ns, exact below. It is HdrHistogram's layout
// at two significant digits, without the dependency.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max time.Duration
}

const (
	subBits     = 6
	subBuckets  = 1 << subBits
	histBuckets = (64-subBits)*subBuckets + subBuckets
)

// bucketOf returns the bucket of v ≥ 0 nanoseconds. Below 2×subBuckets
// each value has its own bucket; above, a value's top subBits+1 bits pick
// it within its power of two.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketMax is the largest value in bucket i.
func bucketMax(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i%subBuckets + subBuckets)
	return (mantissa+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
}

// quantile returns the latency at or below which a fraction q of the
// values lie: the top of the bucket holding the value of rank ⌈q·n⌉,
// clamped to the largest value seen. Zero when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketMax(i)), h.max)
		}
	}
	return h.max
}
