package cimd

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/attesto/gormstore/internal/fixtures"
	"github.com/attesto/gormstore/internal/jsondoc"
)

// A document the resolver accepts, the stores' decoder reads back.
func TestMaxDocumentDepthIsTheStoresDecoders(t *testing.T) {
	if MaxDocumentDepth != jsondoc.MaxDepth {
		t.Errorf("MaxDocumentDepth = %d, jsondoc.MaxDepth = %d", MaxDocumentDepth, jsondoc.MaxDepth)
	}
}

// A fetched body nested deeper than MaxDocumentDepth is an invalid
// document, however large, found without recursing through it.
func TestDecodeDocumentDepth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"MaxDocumentDepth", fixtures.Nested(MaxDocumentDepth, ""), true},
		{"objects to MaxDocumentDepth", strings.Repeat(`{"a":`, MaxDocumentDepth-1) + "{}" + strings.Repeat("}", MaxDocumentDepth-1), true},
		{"one level more", fixtures.Nested(MaxDocumentDepth+1, ""), false},
		{"objects, one level more", strings.Repeat(`{"a":`, MaxDocumentDepth) + "{}" + strings.Repeat("}", MaxDocumentDepth), false},
		{"1 MB of [", `{"a":` + strings.Repeat("[", 1<<20), false},
		{"1 MB of nesting, closed", fixtures.Nested(1<<19, ""), false},
	}
	for _, c := range cases {
		doc, err := decodeDocument([]byte(c.body))
		switch {
		case c.ok && (err != nil || fixtures.DepthOf(doc) != MaxDocumentDepth):
			t.Errorf("%s: %d levels, %v; want %d levels", c.name, fixtures.DepthOf(doc), err, MaxDocumentDepth)
		case !c.ok && (!errors.Is(err, ErrInvalidDocument) || !strings.Contains(err.Error(), "nested deeper")):
			t.Errorf("%s: %.100v, want ErrInvalidDocument for the depth", c.name, err)
		}
	}
}

// FuzzDecodeFetchedDocument: whatever decodeDocument accepts is what
// encoding/json reads, and nests at most MaxDocumentDepth levels.
func FuzzDecodeFetchedDocument(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"client_id":"https://app.example/c","redirect_uris":["https://app.example/cb"],"n":9007199254740993}`,
		`{"a":{"b":[1,2,{"c":null}]},"t":true,"f":false}`,
		`{"a":1,"a":2}`,
		`{"a":"\u00e9\ud83d\ude00"}`,
		"{\"a\":\"\xff\"}",
		`{"a":1} {}`,
		`[]`,
		fixtures.Nested(MaxDocumentDepth, ""),
		fixtures.Nested(MaxDocumentDepth+1, ""),
		`{"a":` + strings.Repeat("[", 5000),
		`{"a":"[[[[{{{{"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := decodeDocument(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("error %v is not ErrInvalidDocument", err)
			}
			return
		}
		if d := fixtures.DepthOf(doc); d > MaxDocumentDepth {
			t.Fatalf("accepted a document %d levels deep", d)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(doc, want) {
			t.Fatalf("decoded %#v, encoding/json %#v", doc, want)
		}
	})
}
