package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	t.Parallel()
	// Every value lands in a bucket whose top is at most 1/64 above it,
	// and buckets grow with the value.
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 130, 255, 256, 1000, 1 << 20, 1<<20 + 12345, 1 << 40, 1<<63 - 1} {
		b := bucketOf(v)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, b, prev, histBuckets)
		}
		prev = b
		top := bucketMax(b)
		if top < v || float64(top-v) > float64(v)/64 {
			t.Errorf("bucketOf(%d): top %d, more than 1/64 above", v, top)
		}
		if b > 0 && bucketMax(b-1) >= v {
			t.Errorf("bucketOf(%d) = %d, but bucket %d reaches %d", v, b, b-1, bucketMax(b-1))
		}
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	var a, b histogram
	// 1 µs to 10 ms, each value once, in random order over two
	// histograms merged afterwards, as the bench's workers are.
	const n = 10000
	for _, i := range rand.Perm(n) {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.record(time.Duration(i+1) * time.Microsecond)
	}
	var h histogram
	h.merge(&a)
	h.merge(&b)
	if h.n != n || h.min != time.Microsecond || h.max != n*time.Microsecond {
		t.Fatalf("n %d, min %v, max %v", h.n, h.min, h.max)
	}
	for _, q := range []float64{0.5, 0.95, 0.99, 1} {
		want := time.Duration(q*n) * time.Microsecond
		got := h.quantile(q)
		if got < want || float64(got-want) > float64(want)/64 {
			t.Errorf("quantile(%v) = %v, want %v to within 1/64 above", q, got, want)
		}
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("an empty histogram has a median")
	}
}
