package repo

// NearCacheWaiters is how many Gets wait for the read of url under way on
// n, or -1 when none is under way: the single-flight tests wait for every
// caller to have joined before they let the read finish.
func NearCacheWaiters(n *NearCache, url string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f := n.flights[url]; f != nil {
		return f.waiters
	}
	return -1
}

// NearCacheEntrySize is the size a NearCache accounts for url's entry
// holding doc, for the tests of MaxBytes.
func NearCacheEntrySize(url string, doc map[string]any) int64 {
	size, _ := measureDocument(url, doc)
	return size
}

// SetNearCacheNotified has n call f after each notification's eviction;
// call it before Start.
func SetNearCacheNotified(n *NearCache, f func(payload string)) {
	n.notified = f
}
