package repo

import (
	"encoding/json"
	"time"
)

// nearEntry is a document in a NearCache's memory. doc is never handed
// out: every Get returns a copy of it.
type nearEntry struct {
	url      string
	doc      map[string]any
	deadline time.Time // served while now is before it
	size     int64     // measureDocument's estimate
	elems    int       // the []any elements in doc, for one allocation per copy

	prev, next *nearEntry // the LRU list, most recently used first
}

// nearList is an intrusive doubly linked list of entries, so that a hit
// moves its entry without allocating.
type nearList struct {
	head, tail *nearEntry
}

func (l *nearList) pushFront(e *nearEntry) {
	e.prev, e.next = nil, l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

func (l *nearList) remove(e *nearEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (l *nearList) moveToFront(e *nearEntry) {
	if l.head == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}

// insertLocked keeps doc for url until deadline, replacing any entry, and
// drops the least recently used entries until the bounds hold again.
func (n *NearCache) insertLocked(url string, doc map[string]any, deadline time.Time, size int64, elems int) {
	if old := n.entries[url]; old != nil {
		n.removeLocked(old)
	}
	e := &nearEntry{url: url, doc: doc, deadline: deadline, size: size, elems: elems}
	n.entries[url] = e
	n.lru.pushFront(e)
	n.bytes += size
	for len(n.entries) > n.maxEntries || n.bytes > n.maxBytes {
		n.removeLocked(n.lru.tail)
		n.evictions.Add(1)
	}
}

func (n *NearCache) removeLocked(e *nearEntry) {
	n.lru.remove(e)
	delete(n.entries, e.url)
	n.bytes -= e.size
}

// Estimated sizes, in bytes, of what a document holds beyond its text:
// an entry with its map slot, a map, a string or number header, a slice
// header, and an interface value in a map or a slice.
const (
	nearEntryOverhead  = 160
	nearMapOverhead    = 48
	nearStringOverhead = 16
	nearSliceOverhead  = 24
	nearValueOverhead  = 16
)

// measureDocument estimates the memory url's entry takes and counts the
// []any elements in doc.
func measureDocument(url string, doc map[string]any) (size int64, elems int) {
	size = nearEntryOverhead + int64(len(url))
	size += measureValue(doc, &elems)
	return size, elems
}

func measureValue(v any, elems *int) int64 {
	switch v := v.(type) {
	case map[string]any:
		size := int64(nearMapOverhead)
		for k, x := range v {
			size += nearStringOverhead + int64(len(k)) + nearValueOverhead + measureValue(x, elems)
		}
		return size
	case []any:
		*elems += len(v)
		size := int64(nearSliceOverhead)
		for _, x := range v {
			size += nearValueOverhead + measureValue(x, elems)
		}
		return size
	case string:
		return nearStringOverhead + int64(len(v))
	case json.Number:
		return nearStringOverhead + int64(len(v))
	default:
		return 0
	}
}

// copyDocument returns a deep copy of doc's maps and arrays, which a
// caller may change at will; strings and numbers are immutable and
// shared. The arrays' elements come from one allocation of elems values.
func copyDocument(doc map[string]any, elems int) map[string]any {
	var slab []any
	if elems > 0 {
		slab = make([]any, elems)
	}
	return copyMap(doc, &slab)
}

func copyMap(m map[string]any, slab *[]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v, slab)
	}
	return out
}

func copyValue(v any, slab *[]any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v, slab)
	case []any:
		// Full slice expression: an append by the caller reallocates
		// instead of writing over the next array's elements.
		s := (*slab)[:len(v):len(v)]
		*slab = (*slab)[len(v):]
		for i, x := range v {
			s[i] = copyValue(x, slab)
		}
		return s
	default:
		return v
	}
}
