package changesets_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/attesto/gormstore/changesets"
)

// fuzzLimits are small, so the fuzzer reaches both limits often.
var fuzzLimits = changesets.Limits{MaxDocumentBytes: 4096, MaxDepth: 8}

// FuzzCast casts a key and a JSON object with both changesets. Cast must
// never panic; a success must store the key as given and a document that
// reads back equal to the input (less the client secrets, for a pushed
// request) within the limits; a failure must be ErrInvalid naming the
// failing fields, the key's exactly when ValidKey refuses it. Params
// without a client_id string must fail, and pass with one added unless
// something else is wrong with them.
func FuzzCast(f *testing.F) {
	f.Add(cimdURL, []byte(`{"client_name":"Example","redirect_uris":["https://client.example/cb"]}`))
	f.Add(requestURI, []byte(`{"client_id":"c","client_secret":"s","client_assertion":"a","client_assertion_type":"t"}`))
	f.Add("", []byte(`{}`))
	f.Add("a\x00b", []byte(`{"s":"\u0000"}`))
	f.Add("\xff", []byte(`{"\u0000":1}`))
	f.Add(keyOfLen(2048), []byte(`{"s":"\ud800","t":"\udc00","u":"\ud83d\ude00","v":"\ufffd"}`))
	f.Add(keyOfLen(2049), []byte("{\"s\":\"\xff\"}"))
	f.Add("k", []byte(`{"n":[9007199254740993,1.0,-0,1e308,1E-324,123456789012345678901234567890.5]}`))
	f.Add("k", []byte(`{"d":[[[[[[[[[]]]]]]]]]}`))
	f.Add("k", []byte(`{"d":[[[[[[[]]]]]]]}`))
	f.Add("k", []byte(`{"s":"<>&\u2028\\u0000\"\\"}`))
	f.Add("k", []byte(`{"s":"`+strings.Repeat("x", 4096)+`"}`))
	f.Add("k", []byte(`[1,2]`))
	f.Add("k", []byte(`null`))
	f.Add("k", []byte(`{"a":1} {"b":2}`))

	f.Add(requestURI, []byte(`{"client_id":["c"],"response_type":"code"}`))
	f.Add(requestURI, []byte(`{"client_id":"","a":{"client_id":"c"}}`))
	f.Add(requestURI, []byte(`{"client_id":null,"x":"client_id"}`))

	f.Fuzz(func(t *testing.T, key string, raw []byte) {
		v, err := decodeJSON(raw)
		if err != nil {
			return // not JSON: input filtering
		}
		doc, ok := v.(map[string]any)
		if !ok {
			return // JSON, but not an object
		}
		for _, k := range kinds() {
			err := fuzzCastOne(t, k, key, doc, raw)
			if k.docField != "params" || hasClientID(doc) {
				continue
			}
			if err == nil {
				t.Errorf("%s: stored params without a client_id string: %s", k.name, raw)
				continue
			}
			// The same params with a client_id, so that the fuzzer explores
			// what a pushed request stores; when they pass, the client_id
			// must have been the params' only fault.
			fixed := maps.Clone(doc)
			fixed["client_id"] = "c"
			if fuzzCastOne(t, k, key, fixed, raw) != nil {
				continue
			}
			var cerr *changesets.Error
			if errors.As(err, &cerr) {
				if msgs := cerr.On("params"); len(msgs) != 1 || !strings.HasPrefix(msgs[0], "client_id: ") {
					t.Errorf("%s: params %s refused with %q, want the client_id named", k.name, raw, msgs)
				}
			}
		}
		// Cast must leave the caller's document as it was.
		if again, err := decodeJSON(raw); err != nil || !jsonEqual(doc, again) {
			t.Errorf("Cast modified the caller's document: %v", doc)
		}
	})
}

// hasClientID reports whether doc, as decodeJSON reads it, holds the
// client_id a pushed request needs.
func hasClientID(doc map[string]any) bool {
	id, ok := doc["client_id"].(string)
	return ok && id != ""
}

// fuzzCastOne casts key and doc with k and checks the outcome; raw is the
// fuzzer's input, for messages.
func fuzzCastOne(t *testing.T, k kind, key string, doc map[string]any, raw []byte) error {
	t.Helper()
	in := validInput(k)
	in.Key, in.Doc = key, doc
	got, err := k.cast(in, fuzzLimits)
	if err != nil {
		checkFuzzError(t, k, key, err)
		return err
	}
	if got.Key != key {
		t.Errorf("%s: row key = %q, want %q", k.name, got.Key, key)
	}
	if !changesets.ValidKey(key) {
		t.Errorf("%s: Cast stored key %q, which ValidKey refuses", k.name, key)
	}
	if len(got.Doc) > fuzzLimits.MaxDocumentBytes {
		t.Errorf("%s: stored %d bytes, over the %d limit", k.name, len(got.Doc), fuzzLimits.MaxDocumentBytes)
	}
	stored, err := decodeJSON(got.Doc)
	if err != nil {
		t.Fatalf("%s: stored document %q is not JSON: %v", k.name, got.Doc, err)
	}
	if d := depthOf(stored); d > fuzzLimits.MaxDepth {
		t.Errorf("%s: stored document nests %d levels, over the %d limit", k.name, d, fuzzLimits.MaxDepth)
	}
	want := doc
	if k.docField == "params" {
		want = make(map[string]any, len(doc))
		for name, value := range doc {
			if !slices.Contains(changesets.ClientSecretParams, name) {
				want[name] = value
			}
		}
	}
	if !jsonEqual(stored, want) {
		t.Errorf("%s: stored %s\nfor input %s", k.name, got.Doc, raw)
	}
	return nil
}

func checkFuzzError(t *testing.T, k kind, key string, err error) {
	t.Helper()
	if !errors.Is(err, changesets.ErrInvalid) {
		t.Fatalf("%s: error %v is not ErrInvalid", k.name, err)
	}
	var cerr *changesets.Error
	if !errors.As(err, &cerr) || len(cerr.Fields) == 0 {
		t.Fatalf("%s: error %v names no field", k.name, err)
	}
	for _, f := range cerr.Fields {
		// The times are valid, so only the key and document can fail.
		if f.Field != k.keyField && f.Field != k.docField {
			t.Errorf("%s: unexpected failure %v", k.name, f)
		}
		if f.Message == "" {
			t.Errorf("%s: empty message on %s", k.name, f.Field)
		}
	}
	if keyFailed := cerr.On(k.keyField) != nil; keyFailed == changesets.ValidKey(key) {
		t.Errorf("%s: key %q: On(%s) = %q but ValidKey = %v", k.name, key, k.keyField, cerr.On(k.keyField), changesets.ValidKey(key))
	}
}
