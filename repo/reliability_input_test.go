package repo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// inputBackend is a pair of stores under test, with the table they write
// (nil for the in-memory stores).
type inputBackend struct {
	name string
	// maxKeyChars is the longest key the table holds, in characters.
	maxKeyChars int
	// wholeSeconds: the table rounds times to the second.
	wholeSeconds bool
	open         func(t testing.TB) *gorm.DB
}

var inputBackends = []inputBackend{
	{"Gorm", changesets.MaxKeyBytes, false, testdb.New},
	{"GormOnAttestoPhoenixTables", 255, true, testdb.NewLegacy},
	{"Memory", changesets.MaxKeyBytes, false, nil},
}

// openDB returns a fresh database for b's stores, or nil for the
// in-memory ones.
func (b inputBackend) openDB(t *testing.T) *gorm.DB {
	if b.open == nil {
		return nil
	}
	return b.open(t)
}

func (b inputBackend) stores(t *testing.T, db *gorm.DB, cfg *repo.Config) (repo.ClientIDMetadataCache, repo.PARStore) {
	if db == nil {
		return repo.NewMemoryClientIDMetadataCache(cfg), repo.NewMemoryPARStore(cfg)
	}
	return stores(t, db, cfg)
}

// inputCase is one Put of hostile or edge-case input, given to both
// stores. A case with no want is accepted and must read back identically,
// through the store and in the raw row; a case with want is rejected with
// a *changesets.Error naming exactly those fields (in the cache's names:
// url, metadata, expires_at) and writes nothing.
type inputCase struct {
	name string
	key  string // "" means a fresh ordinary key; see emptyKey
	doc  map[string]any
	// ttl is the PAR store's; the cache is given now + ttl, unless expires
	// is set.
	ttl     time.Duration
	expires *time.Time
	limits  changesets.Limits
	want    []string
	msg     string // a substring of the error, when rejected
	// subSecond: the case's expiry is under a second away, which tables
	// holding whole seconds cannot keep exactly.
	subSecond bool
	// noClientID: the document lacks the client_id string a pushed
	// request needs, so the PAR store refuses it on params.
	noClientID bool
}

// emptyKey asks for the key "" itself.
const emptyKey = "\x00empty"

// deepDoc nests depth levels of objects (or one object holding arrays),
// the top-level object counting as one, beside a client_id.
func deepDoc(depth int, array bool) map[string]any {
	var inner any = "leaf"
	for i := 1; i < depth; i++ {
		if array {
			inner = []any{inner}
		} else {
			inner = map[string]any{"d": inner}
		}
	}
	return map[string]any{"client_id": "c", "d": inner}
}

// mixedDeep nests arrays and objects alternately, depth levels in all.
func mixedDeep(depth int) map[string]any {
	var inner any = 1
	for i := 1; i < depth; i++ {
		if i%2 == 0 {
			inner = map[string]any{"o": inner}
		} else {
			inner = []any{inner}
		}
	}
	return map[string]any{"top": inner}
}

// sizedDoc encodes to exactly n bytes: {"client_id":"c","s":"xxx..."}.
func sizedDoc(n int) map[string]any {
	return map[string]any{"client_id": "c", "s": strings.Repeat("x", n-len(`{"client_id":"c","s":""}`))}
}

// withClientID returns a copy of d with the client_id a pushed request
// needs, unless d has one.
func withClientID(d map[string]any) map[string]any {
	out := maps.Clone(d)
	if _, ok := out["client_id"]; !ok {
		out["client_id"] = "c"
	}
	return out
}

func inputCases() []inputCase {
	at := func(t time.Time) *time.Time { return &t }
	doc := map[string]any{"client_id": "https://c.example/m.json"}
	ok := func(name string, d map[string]any) inputCase {
		return inputCase{name: name, doc: withClientID(d), ttl: time.Hour}
	}
	// noClient is a document the cache accepts and the PAR store refuses
	// for its client_id (RFC 6749 section 4.1.1).
	noClient := func(name string, d map[string]any) inputCase {
		return inputCase{name: name, doc: d, ttl: time.Hour, noClientID: true, msg: "client_id"}
	}
	bad := func(name string, d map[string]any, msg string) inputCase {
		return inputCase{name: name, doc: d, ttl: time.Hour, want: []string{"metadata"}, msg: msg}
	}
	badKey := func(name, key, msg string) inputCase {
		return inputCase{name: name, key: key, doc: doc, ttl: time.Hour, want: []string{"url"}, msg: msg}
	}
	cases := []inputCase{
		// Keys.
		badKey("key of 0 bytes", emptyKey, "can't be blank"),
		badKey("key of 10 kB", "https://c.example/"+strings.Repeat("k", 10<<10), "should be at most 2048 byte(s)"),
		badKey("key of 2049 bytes", "https://c.example/"+strings.Repeat("k", 2049-len("https://c.example/")), "should be at most 2048 byte(s)"),
		{name: "key of 2048 bytes", key: "https://c.example/" + strings.Repeat("k", 2048-len("https://c.example/")), doc: doc, ttl: time.Hour},
		badKey("NUL at the start of a key", "\x00https://c.example/", "without NUL"),
		badKey("NUL inside a key", "https://c.example/a\x00b", "without NUL"),
		badKey("NUL at the end of a key", "https://c.example/\x00", "without NUL"),
		badKey("invalid UTF-8 byte in a key", "https://c.example/\xff", "valid UTF-8"),
		badKey("truncated UTF-8 in a key", "https://c.example/\xe2\x82", "valid UTF-8"),
		badKey("overlong NUL (C0 80) in a key", "https://c.example/\xc0\x80", "valid UTF-8"),
		badKey("UTF-8-encoded surrogate in a key", "https://c.example/\xed\xa0\x80", "valid UTF-8"),
		badKey("key that is only a NUL", "\x00", "without NUL"),

		// Documents that must read back identically.
		noClient("empty document", map[string]any{}),
		ok("control characters", map[string]any{"s": "\x01\x07\x08\t\n\r\x1b\x1f\x7f"}),
		ok("quotes and backslashes", map[string]any{`"k\`: `say "hi" \ \\ \" \/`}),
		ok(`the text \u0000 (escaped, not a NUL)`, map[string]any{"s": `\u0000`, `\u0000`: "k"}),
		ok("U+2028, U+2029, U+FFFD, U+FEFF, U+10FFFF", map[string]any{"s": "\u2028\u2029\ufffd\ufeff\U0010ffff"}),
		ok("emoji and scripts", map[string]any{"🔑": "ключ 键 مفتاح 👩‍👩‍👧", "é": "e\u0301"}),
		ok("HTML specials", map[string]any{"<script>": "&amp; <b> > <"}),
		ok("SQL in keys and values", map[string]any{"'; DROP TABLE attesto_client_id_metadata; --": "$1 ? %s :x @p1 $$ \\x00"}),
		ok("empty key in the document", map[string]any{"": ""}),
		ok("exact numbers", map[string]any{
			"2^53+1": json.Number("9007199254740993"), "int64": int64(math.MaxInt64), "uint64": uint64(math.MaxUint64),
			"neg": json.Number("-12345678901234567890.000000000000000000001"), "tiny": 5e-324, "huge": 1.7976931348623157e308,
			"zero": json.Number("-0"), "exp": json.Number("1E+2"), "zero with the largest exponent": json.Number("0e1073741822"),
		}),
		ok("null, bools, empty containers", map[string]any{"n": nil, "t": true, "f": false, "o": map[string]any{}, "a": []any{}}),
		ok("nested 32 deep (the default limit)", deepDoc(32, false)),
		ok("arrays 32 deep", deepDoc(32, true)),
		ok("exactly 64 KiB encoded (the default limit)", sizedDoc(changesets.DefaultMaxDocumentBytes)),
		ok("a RawMessage", map[string]any{"raw": json.RawMessage(`{"a": [1, 2.50, "x"]}`)}),

		// Params without a client_id string, which only the cache accepts.
		noClient("client_id as a url.Values holds it", map[string]any{"client_id": []string{"c"}}),
		noClient("client_id a number", map[string]any{"client_id": 1}),
		noClient("client_id null", map[string]any{"client_id": nil}),
		noClient("client_id empty", map[string]any{"client_id": ""}),
		noClient("client_id a RawMessage array", map[string]any{"client_id": json.RawMessage(`["c"]`)}),

		// Documents no store may accept.
		{name: "nil document", doc: nil, ttl: time.Hour, want: []string{"metadata"}, msg: "can't be blank"},
		bad("NaN", map[string]any{"n": math.NaN()}, "not encodable"),
		bad("+Inf", map[string]any{"n": math.Inf(1)}, "not encodable"),
		bad("-Inf float32", map[string]any{"n": float32(math.Inf(-1))}, "not encodable"),
		bad("channel", map[string]any{"c": make(chan int)}, "not encodable"),
		bad("function", map[string]any{"f": func() {}}, "not encodable"),
		bad("complex number", map[string]any{"c": complex(1, 2)}, "not encodable"),
		bad("malformed RawMessage", map[string]any{"r": json.RawMessage(`{"a":`)}, "not encodable"),
		bad("json.Number that is no number", map[string]any{"n": json.Number("12abc")}, "not encodable"),
		bad("NUL in a value", map[string]any{"s": "a\x00b"}, "NUL"),
		bad("NUL in a member name", map[string]any{"a\x00": "s"}, "NUL"),
		bad("NUL deep in an array", map[string]any{"l": []any{1, []any{map[string]any{"s": "\x00"}}}}, "NUL"),
		bad(`RawMessage holding \u0000`, map[string]any{"r": json.RawMessage(`"\u0000"`)}, "NUL"),
		bad("RawMessage holding a lone high surrogate", map[string]any{"r": json.RawMessage(`"\ud800"`)}, "UTF-8"),
		bad("RawMessage holding a lone low surrogate", map[string]any{"r": json.RawMessage(`"\udc00x"`)}, "UTF-8"),
		bad("invalid UTF-8 in a value", map[string]any{"s": "a\xffb"}, "UTF-8"),
		bad("invalid UTF-8 in a member name", map[string]any{"\xfe": 1}, "UTF-8"),
		bad("overlong NUL (C0 80) in a value", map[string]any{"s": "\xc0\x80"}, "UTF-8"),
		bad("UTF-8-encoded surrogate in a value", map[string]any{"s": "\xed\xa0\x80"}, "UTF-8"),
		bad("invalid UTF-8 nested", map[string]any{"a": []any{map[string]any{"b": "\xe2\x82"}}}, "UTF-8"),
		bad("nested 33 deep", deepDoc(33, false), "nested at most 32"),
		bad("arrays 33 deep", deepDoc(33, true), "nested at most 32"),
		bad("objects 10,000 deep", deepDoc(10000, false), "nested at most 32"),
		bad("arrays 10,000 deep", deepDoc(10000, true), "nested at most 32"),
		bad("objects and arrays 10,000 deep", mixedDeep(10000), "nested at most 32"),
		bad("64 KiB + 1 byte encoded", sizedDoc(changesets.DefaultMaxDocumentBytes+1), "at most 65536 byte(s)"),
		bad("1 MiB", sizedDoc(1<<20), "at most 65536 byte(s)"),

		// Configured limits.
		{name: "limit 100 bytes: 100", doc: sizedDoc(100), ttl: time.Hour, limits: changesets.Limits{MaxDocumentBytes: 100}},
		{name: "limit 100 bytes: 101", doc: sizedDoc(101), ttl: time.Hour, limits: changesets.Limits{MaxDocumentBytes: 100}, want: []string{"metadata"}, msg: "at most 100 byte(s)"},
		{name: "limit 1 MiB: 1 MiB", doc: sizedDoc(1 << 20), ttl: time.Hour, limits: changesets.Limits{MaxDocumentBytes: 1 << 20}},
		{name: "limit depth 3: 3", doc: deepDoc(3, false), ttl: time.Hour, limits: changesets.Limits{MaxDepth: 3}},
		{name: "limit depth 3: 4", doc: deepDoc(4, false), ttl: time.Hour, limits: changesets.Limits{MaxDepth: 3}, want: []string{"metadata"}, msg: "nested at most 3"},
		{name: "limit depth 100: 100", doc: deepDoc(100, true), ttl: time.Hour, limits: changesets.Limits{MaxDepth: 100}},
		{name: "negative limits mean the defaults", doc: sizedDoc(changesets.DefaultMaxDocumentBytes + 1), ttl: time.Hour,
			limits: changesets.Limits{MaxDocumentBytes: -1, MaxDepth: -1}, want: []string{"metadata"}, msg: "at most 65536"},

		// Expiries.
		{name: "TTL 0", doc: doc, ttl: 0, want: []string{"expires_at"}, msg: "must be after inserted_at"},
		{name: "TTL -1ns", doc: doc, ttl: -1, want: []string{"expires_at"}, msg: "must be after inserted_at"},
		{name: "TTL -1h", doc: doc, ttl: -time.Hour, want: []string{"expires_at"}, msg: "must be after inserted_at"},
		{name: "TTL math.MinInt64", doc: doc, ttl: math.MinInt64, want: []string{"expires_at"}},
		{name: "TTL 1ns (below microsecond precision)", doc: doc, ttl: 1, want: []string{"expires_at"}, msg: "must be after inserted_at"},
		{name: "TTL 1µs", doc: doc, ttl: time.Microsecond, subSecond: true},
		{name: "TTL math.MaxInt64 (292 years)", doc: doc, ttl: math.MaxInt64},
		{name: "zero expiry", doc: doc, ttl: time.Hour, expires: at(time.Time{}), want: []string{"expires_at"}, msg: "can't be blank"},
		{name: "expiry equal to now", doc: doc, ttl: time.Hour, expires: at(repotest.Epoch), want: []string{"expires_at"}, msg: "must be after inserted_at"},
		{name: "expiry 1ns ago", doc: doc, ttl: time.Hour, expires: at(repotest.Epoch.Add(-1)), want: []string{"expires_at"}},
		{name: "expiry at the Unix epoch", doc: doc, ttl: time.Hour, expires: at(time.Unix(0, 0)), want: []string{"expires_at"}},
		{name: "expiry in year 1", doc: doc, ttl: time.Hour, expires: at(time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)), want: []string{"expires_at"}},
		{name: "expiry in year 10000", doc: doc, ttl: time.Hour, expires: at(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), want: []string{"expires_at"}, msg: "out of range"},
		{name: "expiry 9999-12-31", doc: doc, ttl: time.Hour, expires: at(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))},
		{name: "expiry in another time zone", doc: doc, ttl: time.Hour, expires: at(repotest.Epoch.Add(time.Hour).In(time.FixedZone("UTC+14", 14*3600)))},

		// Several fields at once: every one is named.
		{name: "bad key, document and expiry", key: "\xff", doc: map[string]any{"n": math.NaN()}, ttl: -1, expires: at(time.Time{}),
			want: []string{"url", "metadata", "expires_at"}},
	}
	return cases
}

// parField maps the cache's field names to the PAR store's.
func parField(f string) string {
	switch f {
	case "url":
		return "request_uri"
	case "metadata":
		return "params"
	}
	return f
}

// Table-driven hostile and edge-case input, through both stores of every
// backend.
func TestReliabilityHostileInput(t *testing.T) {
	t.Parallel()
	for _, b := range inputBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.openDB(t)
			ctx := context.Background()
			accepted, rejected := 0, 0
			for i, tc := range inputCases() {
				if tc.subSecond && b.wholeSeconds {
					continue // the table rounds the expiry to a whole second
				}
				clock := repotest.NewClock(repotest.Epoch)
				// No ttl bound here: these cases test the changesets; the conformance suite tests the bound.
				c, p := b.stores(t, db, &repo.Config{Now: clock.Now, Limits: tc.limits, MaxPARTTL: math.MaxInt64})
				want := map[string]bool{}
				for _, f := range tc.want {
					want[f] = true
				}
				key := tc.key
				switch {
				case key == emptyKey:
					key = ""
				case key == "":
					key = fmt.Sprintf("https://c.example/case/%d", i)
				case !want["url"] && utf8.RuneCountInString(key) > b.maxKeyChars:
					want["url"] = true // too long for the table's column
				}
				expires := repotest.Epoch.Add(tc.ttl)
				if tc.expires != nil {
					expires = *tc.expires
				}

				for _, s := range []struct {
					store, table string
					put          func() error
					get          func() (map[string]any, bool, error)
					want         map[string]bool
				}{
					{"cache", cimdTable, func() error { return c.Put(ctx, key, tc.doc, expires) },
						func() (map[string]any, bool, error) { return c.Get(ctx, key) }, want},
					{"PAR store", parTable, func() error { return p.Put(ctx, key, tc.doc, tc.ttl) },
						func() (map[string]any, bool, error) { return p.Fetch(ctx, key) }, parWant(want, tc)},
				} {
					var before int64
					if db != nil {
						before = rawCount(t, db, s.table)
					}
					err := s.put()
					if len(s.want) == 0 {
						accepted++
						if err != nil {
							t.Errorf("%s: %s Put: %v, want it accepted", tc.name, s.store, err)
							continue
						}
						got, found, err := s.get()
						if err != nil || !found || !sameJSON(got, tc.doc) {
							t.Errorf("%s: %s read back %.200v, %v, %v; want the document", tc.name, s.store, got, found, err)
						}
						if db != nil {
							raw, _, found := rawDocument(t, db, s.table, key)
							if !found || !sameJSON(raw, tc.doc) {
								t.Errorf("%s: %s raw row %.200v (found %v), want the document", tc.name, s.store, raw, found)
							}
							if n := rawCount(t, db, s.table); n != before+1 {
								t.Errorf("%s: %s Put added %d rows, want 1", tc.name, s.store, n-before)
							}
						}
						continue
					}
					rejected++
					fields, ferr := invalidFields(err)
					if ferr != nil {
						t.Errorf("%s: %s Put: %v", tc.name, s.store, ferr)
						continue
					}
					if fieldList(fields) != fieldList(s.want) {
						t.Errorf("%s: %s Put: %q names %s, want %s", tc.name, s.store, err, fieldList(fields), fieldList(s.want))
					}
					if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
						t.Errorf("%s: %s Put: %q, want it to say %q", tc.name, s.store, err, tc.msg)
					}
					if _, found, gerr := s.get(); found || gerr != nil {
						t.Errorf("%s: %s lookup after the rejected Put = %v, %v; want a miss", tc.name, s.store, found, gerr)
					}
					if db != nil {
						if n := rawCount(t, db, s.table); n != before {
							t.Errorf("%s: %s rejected Put changed the row count by %d", tc.name, s.store, n-before)
						}
					}
				}
			}
			t.Logf("%s: %d cases, %d Puts accepted and read back identically, %d rejected naming the right fields, writing nothing",
				b.name, len(inputCases()), accepted, rejected)
		})
	}
}

// parWant is want in the PAR store's names; the PAR store takes a TTL,
// not an expiry, so only the TTL decides expires_at there.
func parWant(want map[string]bool, tc inputCase) map[string]bool {
	out := map[string]bool{}
	for f := range want {
		if f == "expires_at" && tc.expires != nil {
			continue
		}
		out[parField(f)] = true
	}
	if tc.expires != nil && tc.ttl <= 0 {
		out["expires_at"] = true
	}
	if tc.noClientID {
		out["params"] = true
	}
	return out
}

// Keys with SQL metacharacters, LIKE and regular-expression wildcards,
// whitespace and look-alike Unicode are stored and matched literally: each
// reads back its own document, the table holds exactly those keys byte
// for byte, and probes that a pattern match would find are misses.
func TestReliabilityKeysAreLiteral(t *testing.T) {
	t.Parallel()
	keys := []string{
		`'`, `''`, `';DROP TABLE attesto_client_id_metadata;--`, `' OR '1'='1`, `" OR ""="`,
		`\`, `\'`, `\\%`, `$1`, `?`, `:name`, `@p1`, `$$ $$`, `::text`, `E'\\x00'`, `/* */ --`,
		`1; SELECT pg_sleep(10)`, `%`, `_`, `%%`, `a%b`, `a_b`, `[a-z]*`, `.*`, `^$`, `*`,
		"tab\there", "new\nline", "cr\rlf", " lead", "trail ", "ключ/键/🔑", "\u202eRTL", "zero\u200bwidth",
		"\ufffd", "\u00e9", "e\u0301", "A", "a", "ǅ", "ǆ",
	}
	probes := []string{
		"%x", "x%", "_b", "a__", "A%B", "a%", "%b", ".", "..", "[a-z]", "a*", "", " ", "\\\\", "%%%",
		"OR", "e", "E", "\u00c9", "lead", "trail", "tab here", "' OR '1'='1 ", "\x00", "\xff",
	}
	stored := map[string]bool{}
	for _, k := range keys {
		stored[k] = true
	}
	for _, p := range probes {
		if stored[p] {
			t.Fatalf("probe %q is also a stored key", p)
		}
	}
	for _, b := range inputBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.openDB(t)
			c, ps := b.stores(t, db, nil)
			p := ps.(repo.ClientBoundPARStore)
			for _, k := range keys {
				if err := c.Put(ctx, k, map[string]any{"key": k}, time.Now().Add(time.Hour)); err != nil {
					t.Fatalf("cache Put %q: %v", k, err)
				}
				if err := p.Put(ctx, k, map[string]any{"key": k, "client_id": k}, 5*time.Minute); err != nil {
					t.Fatalf("PAR Put %q: %v", k, err)
				}
			}
			for _, k := range keys {
				if got, found, err := c.Get(ctx, k); err != nil || !found || !sameJSON(got, map[string]any{"key": k}) {
					t.Errorf("cache Get(%q) = %v, %v, %v; want its own document", k, got, found, err)
				}
				if got, found, err := p.FetchForClient(ctx, k, k); err != nil || !found || !sameJSON(got, map[string]any{"key": k, "client_id": k}) {
					t.Errorf("PAR FetchForClient(%q, %q) = %v, %v, %v; want its own request", k, k, got, found, err)
				}
			}
			misses := 0
			for _, k := range probes {
				if stored[k] {
					continue
				}
				misses++
				if got, found, err := c.Get(ctx, k); found || err != nil {
					t.Errorf("cache Get(%q) of a key never stored = %v, %v, %v; want a miss", k, got, found, err)
				}
				if got, found, err := p.Take(ctx, k); found || err != nil {
					t.Errorf("PAR Take(%q) of a key never stored = %v, %v, %v; want a miss", k, got, found, err)
				}
				for _, uri := range []string{"a%b", "a_b", "%", "[a-z]*"} {
					if _, found, err := p.TakeForClient(ctx, uri, k); found || err != nil {
						t.Errorf("PAR TakeForClient(%q, client %q) = %v, %v; want a miss", uri, k, found, err)
					}
				}
			}
			if db != nil {
				for _, table := range []string{cimdTable, parTable} {
					raw := rawKeys(t, db, table)
					if len(raw) != len(keys) {
						t.Errorf("%s holds %d keys, want the %d stored", table, len(raw), len(keys))
					}
					for _, k := range keys {
						if !raw[k] {
							t.Errorf("%s lacks the key %q byte for byte", table, k)
						}
					}
				}
			}
			// Every request is still there: no probe consumed one.
			for _, k := range keys {
				if _, found, err := p.Take(ctx, k); err != nil || !found {
					t.Errorf("PAR Take(%q) after the probes = %v, %v; want its request", k, found, err)
				}
			}
			t.Logf("%s: %d literal keys stored and read back in both stores, %d wildcard and look-alike probes missed", b.name, len(keys), misses)
		})
	}
}

// The size limits are configurable, and their documented defaults (docs/semantics.md:
// 64 KiB, 32 levels) are what a zero Limits enforces.
func TestReliabilityDocumentedLimitDefaults(t *testing.T) {
	t.Parallel()
	if changesets.DefaultMaxDocumentBytes != 64<<10 || changesets.DefaultMaxDepth != 32 || changesets.MaxKeyBytes != 2048 {
		t.Errorf("defaults are %d bytes, %d levels, keys %d bytes; docs/semantics.md documents 64 KiB, 32, 2048",
			changesets.DefaultMaxDocumentBytes, changesets.DefaultMaxDepth, changesets.MaxKeyBytes)
	}
	c := repo.NewMemoryClientIDMetadataCache(nil)
	exp := time.Now().Add(time.Hour)
	if err := c.Put(context.Background(), "https://c.example/", sizedDoc(64<<10), exp); err != nil {
		t.Errorf("a 64 KiB document with the default limits: %v", err)
	}
	if err := c.Put(context.Background(), "https://c.example/", sizedDoc(64<<10+1), exp); err == nil {
		t.Error("a document of 64 KiB + 1 accepted with the default limits")
	}
	if err := c.Put(context.Background(), "https://c.example/", deepDoc(32, false), exp); err != nil {
		t.Errorf("32 levels with the default limits: %v", err)
	}
	if err := c.Put(context.Background(), "https://c.example/", deepDoc(33, false), exp); err == nil {
		t.Error("33 levels accepted with the default limits")
	}
}
