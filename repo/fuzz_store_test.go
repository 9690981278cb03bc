package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
	"github.com/attesto/gormstore/repo/repotest"
)

// The store fuzz targets put arbitrary keys, documents and expiries into
// the GORM stores on a real schema, and check every outcome against an
// oracle that does not use the changesets package:
//
//   - nothing panics, and no call returns an error that is not a
//     *changesets.Error matching changesets.ErrInvalid;
//   - a rejection names exactly the fields the oracle finds bad, and the
//     table holds no row afterwards (raw SQL);
//   - an accepted Put reads back identically through the store and in the
//     raw row (key byte for byte, document by repotest.JSONEqual, expiry at
//     microsecond precision), within the size limit, and lookups of any
//     key never fail.
//
// The oracle judges the document by its structure (nil, NUL, invalid
// UTF-8, nesting, encoded size) and, when that passes, asks PostgreSQL
// itself: the encoding cast to jsonb must be accepted and, written back
// out, still fit the limit. Pushed params must also hold client_id as a
// non-empty string (RFC 6749 section 4.1.1).
//
// Run one with: go test -run '^$' -fuzz '^FuzzGormPARStore$' -fuzztime 30s ./repo

// storeFuzzLimits are small, so that the fuzzer reaches both often.
var storeFuzzLimits = changesets.Limits{MaxDocumentBytes: 2048, MaxDepth: 8}

// fuzzDocument builds the document of one fuzz input. shape picks how:
//
//	bit 0: raw as the text of a string member, not parsed as JSON
//	bit 1: a nil document
//	bit 2: also a member named by raw
//	bit 3: client authentication secrets (which the PAR store drops)
//	bits 4-7: that many extra levels of nesting around the document
func fuzzDocument(raw []byte, shape uint8) map[string]any {
	if shape&2 != 0 {
		return nil
	}
	var doc map[string]any
	if shape&1 == 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil || dec.More() {
			doc = nil
		}
	}
	if doc == nil {
		doc = map[string]any{"raw": string(raw)}
	}
	if shape&4 != 0 {
		doc[string(raw)] = true
	}
	for range shape >> 4 {
		doc = map[string]any{"w": doc}
	}
	if shape&8 != 0 {
		doc["client_secret"] = string(raw)
		doc["client_assertion"] = "eyJhbGciOiJub25lIn0." + string(raw)
		doc["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	}
	return doc
}

func withoutSecrets(doc map[string]any) map[string]any {
	if doc == nil {
		return nil
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
		default:
			out[k] = v
		}
	}
	return out
}

// oracleKey: a key PostgreSQL's text holds byte for byte, within 2048 bytes.
func oracleKey(key string) bool {
	return key != "" && len(key) <= 2048 && utf8.ValidString(key) && !strings.ContainsRune(key, 0)
}

// oracleExpiry: after now once both are cut to microseconds, as stored.
func oracleExpiry(expires, now time.Time) bool {
	y := expires.UTC().Year()
	return expires.UTC().Truncate(time.Microsecond).After(now.UTC().Truncate(time.Microsecond)) && y >= 1 && y <= 9999
}

// oracleDocument says whether doc must be refused, and why.
func oracleDocument(t *testing.T, db *gorm.DB, doc map[string]any, lim changesets.Limits) (bad bool, why string) {
	if doc == nil {
		return true, "nil"
	}
	if why := badStructure(doc, 0, lim.MaxDepth); why != "" {
		return true, why
	}
	enc, err := json.Marshal(doc)
	if err != nil {
		return true, "not encodable"
	}
	if len(enc) > lim.MaxDocumentBytes {
		return true, "too large"
	}
	// Ask PostgreSQL: jsonb must take it, and give back a document that,
	// encoded again, still fits the limit (it writes numbers out in full).
	var text string
	err = db.Raw(`SELECT CAST(? AS jsonb)::text`, string(enc)).Row().Scan(&text)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22"):
		return true, "PostgreSQL refuses it: " + pgErr.Message
	case err != nil:
		t.Fatalf("oracle: %v", err)
	}
	back, err := decodeJSONObject([]byte(text))
	if err != nil {
		t.Fatalf("oracle: PostgreSQL's text %.100q: %v", text, err)
	}
	if again, _ := json.Marshal(back); len(again) > lim.MaxDocumentBytes {
		return true, "too large as PostgreSQL writes it"
	}
	return false, ""
}

func badStructure(v any, depth, maxDepth int) string {
	text := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	switch x := v.(type) {
	case map[string]any:
		if depth+1 > maxDepth {
			return "too deep"
		}
		for k, e := range x {
			if !text(k) {
				return "bad text in a name"
			}
			if why := badStructure(e, depth+1, maxDepth); why != "" {
				return why
			}
		}
	case []any:
		if depth+1 > maxDepth {
			return "too deep"
		}
		for _, e := range x {
			if why := badStructure(e, depth+1, maxDepth); why != "" {
				return why
			}
		}
	case string:
		if !text(x) {
			return "bad text in a value"
		}
	}
	return ""
}

// fuzzCheck is what both targets check after a Put.
type fuzzCheck struct {
	t       *testing.T
	db      *gorm.DB
	table   string
	fields  map[string]string // the cache's field names to this store's
	key     string
	want    map[string]any // the document as it must read back
	expires time.Time
	// needsClientID: the document must hold client_id as a non-empty
	// string, as pushed params must.
	needsClientID bool
}

func (c fuzzCheck) put(err error, keyOK, expOK bool) (accepted bool) {
	t := c.t
	docBad, why := oracleDocument(t, c.db, c.want, storeFuzzLimits)
	if id, _ := c.want["client_id"].(string); !docBad && c.needsClientID && id == "" {
		docBad, why = true, "no client_id string"
	}
	want := map[string]bool{}
	if !keyOK {
		want[c.fields["url"]] = true
	}
	if docBad {
		want[c.fields["metadata"]] = true
	}
	if !expOK {
		want["expires_at"] = true
	}
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Put(%.80q) = %v; the oracle finds nothing wrong", c.key, err)
		}
		return true
	}
	fields, ferr := invalidFields(err)
	if ferr != nil {
		t.Fatalf("Put(%.80q): %v; want a rejection naming %s (document: %s)", c.key, ferr, fieldList(want), why)
	}
	if fieldList(fields) != fieldList(want) {
		t.Fatalf("Put(%.80q): %q names %s, want %s (document: %s)", c.key, err, fieldList(fields), fieldList(want), why)
	}
	if n := rawCount(t, c.db, c.table); n != 0 {
		t.Fatalf("a rejected Put left %d rows in %s", n, c.table)
	}
	return false
}

// stored checks the raw row of an accepted Put.
func (c fuzzCheck) stored() {
	t := c.t
	keys := rawKeys(t, c.db, c.table)
	if len(keys) != 1 || !keys[c.key] {
		t.Fatalf("%s holds keys %v after one accepted Put of %.80q", c.table, keys, c.key)
	}
	raw, exp, found := rawDocument(t, c.db, c.table, c.key)
	if !found || !repotest.JSONEqual(raw, c.want) {
		t.Fatalf("raw row of %.80q = %.300v, want %.300v", c.key, raw, c.want)
	}
	if want := c.expires.UTC().Truncate(time.Microsecond); !exp.Equal(want) {
		t.Fatalf("raw expires_at of %.80q = %v, want %v", c.key, exp, want)
	}
}

func (c fuzzCheck) readBack(op string, got map[string]any, found bool, err error) {
	t := c.t
	if err != nil || !found {
		t.Fatalf("%s(%.80q) after an accepted Put = %v, %v", op, c.key, found, err)
	}
	if !repotest.JSONEqual(got, c.want) {
		t.Fatalf("%s(%.80q) = %.300v, want %.300v", op, c.key, got, c.want)
	}
	if b, _ := json.Marshal(got); len(b) > storeFuzzLimits.MaxDocumentBytes {
		t.Fatalf("%s(%.80q) returned %d bytes, over the %d-byte limit the Put was accepted under", op, c.key, len(b), storeFuzzLimits.MaxDocumentBytes)
	}
}

func miss(t *testing.T, op, key string, got map[string]any, found bool, err error) {
	t.Helper()
	if err != nil || found || got != nil {
		t.Fatalf("%s(%.80q) = %v, %v, %v; want a miss", op, key, got, found, err)
	}
}

// addStoreSeeds gives both targets the same starting points.
func addStoreSeeds(f *testing.F, prefix string) {
	for _, s := range []struct {
		key   string
		raw   string
		ttl   int64
		shape uint8
	}{
		{prefix + "a", `{"client_name":"Example","redirect_uris":["https://c.example/cb"],"n":9007199254740993}`, int64(time.Hour), 0},
		{prefix + "%", `{"s":"'; DROP TABLE attesto_client_id_metadata; --"}`, int64(time.Minute), 0},
		{"", `{}`, int64(time.Hour), 0},
		{prefix + "\x00", `{"s":"\u0000"}`, int64(time.Hour), 0},
		{prefix + "\xff", "\xff\xfe", 0, 1},
		{prefix + "deep", `{"a":[[[[[[[[1]]]]]]]}`, 1000, 0x30},
		{prefix + "num", `{"n":[1e300,-0,1.50,1E-5,0e-2000,123456789012345678901234567890]}`, 1, 0},
		{prefix + "big", `{"n":1e5000}`, int64(time.Hour), 0},
		{prefix + "overflow", `{"n":1e131072}`, int64(time.Hour), 0},
		{prefix + "secret", `{"client_id":"c","scope":"openid"}`, int64(time.Minute), 8},
		{prefix + "nulsecret", "a\x00b", int64(time.Minute), 9},
		{prefix + "html", `{"<>&":"\u2028<script>"}`, int64(time.Second), 4},
		{prefix + "past", `{"a":1}`, -1, 0},
		{prefix + "noclient", `{"scope":"openid"}`, int64(time.Minute), 0x80},
		{prefix + "clientarray", `{"client_id":["c"]}`, int64(time.Minute), 0},
		{prefix + "clientempty", `{"client_id":""}`, int64(time.Minute), 0},
		{strings.Repeat("k", 2049), `{"a":1}`, int64(time.Hour), 0},
	} {
		f.Add(s.key, []byte(s.raw), s.ttl, s.shape)
	}
}

func FuzzGormClientIDMetadataCache(f *testing.F) {
	addStoreSeeds(f, "https://c.example/")
	db := testdb.New(f)
	now := repotest.Epoch
	c, err := repo.NewGormClientIDMetadataCache(db, &repo.Config{Now: func() time.Time { return now }, Limits: storeFuzzLimits})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key string, raw []byte, ttl int64, shape uint8) {
		defer testdb.MustExec(t, db, `DELETE FROM attesto_client_id_metadata`)
		doc := fuzzDocument(raw, shape)
		expires := now.Add(time.Duration(ttl))
		check := fuzzCheck{t: t, db: db, table: cimdTable, key: key, want: doc, expires: expires,
			fields: map[string]string{"url": "url", "metadata": "metadata"}}
		err := c.Put(ctx, key, doc, expires)
		if !check.put(err, oracleKey(key), oracleExpiry(expires, now)) {
			got, found, err := c.Get(ctx, key)
			miss(t, "Get", key, got, found, err)
			return
		}
		check.stored()
		got, found, err := c.Get(ctx, key)
		check.readBack("Get", got, found, err)
		if err := c.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%.80q): %v", key, err)
		}
		got, found, err = c.Get(ctx, key)
		miss(t, "Get after Delete", key, got, found, err)
	})
}

func FuzzGormPARStore(f *testing.F) {
	addStoreSeeds(f, "urn:ietf:params:oauth:request_uri:")
	db := testdb.New(f)
	now := repotest.Epoch
	p, err := repo.NewGormPARStore(db, &repo.Config{Now: func() time.Time { return now }, Limits: storeFuzzLimits})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	// shape as for fuzzDocument, but bit 7 (nesting 8 levels or more, all
	// too deep alike) keeps the params as they are; without it, params
	// lacking a client_id get one, so that the fuzzer explores what a
	// pushed request stores rather than only its refusal.
	f.Fuzz(func(t *testing.T, key string, raw []byte, ttl int64, shape uint8) {
		defer testdb.MustExec(t, db, `DELETE FROM attesto_pushed_authorization_requests`)
		doc := fuzzDocument(raw, shape&0x7f)
		if _, has := doc["client_id"]; doc != nil && !has && shape&0x80 == 0 {
			doc["client_id"] = "c"
		}
		expires := now.Add(time.Duration(ttl))
		check := fuzzCheck{t: t, db: db, table: parTable, key: key, want: withoutSecrets(doc), expires: expires,
			fields: map[string]string{"url": "request_uri", "metadata": "params"}, needsClientID: true}
		err := p.Put(ctx, key, doc, time.Duration(ttl))
		if doc != nil && shape&8 != 0 {
			if _, kept := doc["client_secret"]; !kept {
				t.Fatal("Put removed client_secret from the caller's map")
			}
		}
		// Past the oracle's expiry rules, a ttl over the store's maximum is
		// refused too.
		if !check.put(err, oracleKey(key), oracleExpiry(expires, now) && time.Duration(ttl) <= repo.DefaultMaxPARTTL) {
			got, found, err := p.Fetch(ctx, key)
			miss(t, "Fetch", key, got, found, err)
			got, found, err = p.Take(ctx, key)
			miss(t, "Take", key, got, found, err)
			return
		}
		check.stored()
		got, found, err := p.Fetch(ctx, key)
		check.readBack("Fetch", got, found, err)
		// The request binds to its string client_id, and to nothing else.
		clientID, isString := check.want["client_id"].(string)
		for _, cid := range []string{key, string(raw), "%", clientID} {
			got, found, err := p.FetchForClient(ctx, key, cid)
			if isString && cid == clientID && oracleKey(cid) {
				check.readBack("FetchForClient", got, found, err)
			} else {
				miss(t, "FetchForClient by "+cid, key, got, found, err)
			}
		}
		got, found, err = p.Take(ctx, key)
		check.readBack("Take", got, found, err)
		got, found, err = p.Take(ctx, key)
		miss(t, "second Take", key, got, found, err)
	})
}
