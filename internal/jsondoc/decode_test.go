package jsondoc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/attesto/gormstore/internal/fixtures"
)

// decodeCases are documents the fast parser must read exactly as
// encoding/json does, or leave to it.
var decodeCases = []string{
	`{}`,
	` {"a": 1} `,
	"\t{\n\"a\"\r:[]}\n",
	`{"a": [], "b": {}, "c": [[]], "d": [{}]}`,
	`{"n": 9007199254740993, "f": -0.5e-10, "e": 1E+2, "z": 0, "m": -0}`,
	`{"t": true, "f": false, "n": null, "arr": [true, false, null, "x", 1.5]}`,
	`{"dup": 1, "dup": 2}`,
	`{"esc": "q\" b\\ s\/ \b\f\n\r\t"}`,
	`{"u": "\u00e9\u4e2d\ud83d\ude00 \u0041"}`,
	`{"nul": "\u0000"}`,
	`{"raw": "é中😀"}`,
	`{"k\u00e9y": "v", "": ""}`,
	// Left to encoding/json: lone surrogates become U+FFFD.
	`{"lone": "\ud83d"}`,
	`{"lone": "\ud83dx"}`,
	`{"lone": "\ude00"}`,
	`{"pair?": "\ud83d\u0041"}`,
	// Invalid: errors from encoding/json.
	``,
	`null`,
	`[]`,
	`"s"`,
	`{`,
	`{"a"}`,
	`{"a":}`,
	`{"a":1,}`,
	`{"a":[1,]}`,
	`{"a":01}`,
	`{"a":1.}`,
	`{"a":.5}`,
	`{"a":1e}`,
	`{"a":-}`,
	`{"a":+1}`,
	`{"a":tru}`,
	`{"a":nul}`,
	`{"a":"\x"}`,
	`{"a":"\u12"}`,
	"{\"a\":\"\x01\"}",
	"{\"a\":\"\xff\"}",
	`{"a":1} {"b":2}`,
	`{"a":1} x`,
	`{a:1}`,
	`{"a":1 "b":2}`,
	`{"a" 1}`,
	`{"a":"unterminated}`,
	strings.Repeat(`{"a":`, 600) + `1` + strings.Repeat(`}`, 600),
	strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000),
	// Around MaxDepth, and brackets that do not nest.
	fixtures.Nested(MaxDepth, "1"),
	fixtures.Nested(MaxDepth+1, "1"),
	fixtures.Nested(MaxDepth, `"[[[{{{"`),
	`{"a":"[[[[\"[[[[", "b":"]]]]"}`,
	`{"a":` + strings.Repeat("[", 1<<16),
	`{"a":` + strings.Repeat("]", 600) + `}`,
}

// A document nested deeper than MaxDepth is an error from both parsers,
// however large; one at MaxDepth decodes.
func TestDecodeDepthLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"MaxDepth of arrays", fixtures.Nested(MaxDepth, "1"), true},
		{"MaxDepth of objects", strings.Repeat(`{"a":`, MaxDepth-1) + "{}" + strings.Repeat("}", MaxDepth-1), true},
		{"brackets in strings do not count", fixtures.Nested(MaxDepth, `"[[[[{{{{\"[["`), true},
		{"one level more, arrays", fixtures.Nested(MaxDepth+1, "1"), false},
		{"one level more, objects", strings.Repeat(`{"a":`, MaxDepth) + "{}" + strings.Repeat("}", MaxDepth), false},
		{"1 MB of [", `{"a":` + strings.Repeat("[", 1<<20), false},
		{"1 MB of nesting, closed", fixtures.Nested(1<<19, "1"), false},
	}
	for _, c := range cases {
		for name, decode := range map[string]func([]byte) (map[string]any, error){
			"Decode": Decode, "DecodeStandard": DecodeStandard,
		} {
			doc, err := decode([]byte(c.in))
			switch {
			case c.ok && err != nil:
				t.Errorf("%s: %s = %v", c.name, name, err)
			case c.ok && fixtures.DepthOf(doc) != MaxDepth:
				t.Errorf("%s: %s nests %d levels, want %d", c.name, name, fixtures.DepthOf(doc), MaxDepth)
			case !c.ok && !errors.Is(err, ErrTooDeep):
				t.Errorf("%s: %s = %.80v, want ErrTooDeep", c.name, name, err)
			}
		}
	}
}

// checkDecode fails t unless Decode and encoding/json agree on in.
func checkDecode(t *testing.T, in string) {
	t.Helper()
	got, gotErr := Decode([]byte(in))
	want, wantErr := DecodeStandard([]byte(in))
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("decode %.80q: error %v, encoding/json's %v", in, gotErr, wantErr)
	}
	if gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("decode %.80q: error %q, encoding/json's %q", in, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %.80q = %#v, encoding/json gives %#v", in, got, want)
	}
}

func TestDecodeDocumentIsEncodingJSONs(t *testing.T) {
	t.Parallel()
	for _, in := range decodeCases {
		checkDecode(t, in)
	}
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata documents (%v)", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, string(b))
		if _, ok := parseObject(string(b)); !ok {
			t.Errorf("%s: the fast parser refused a valid document", p)
		}
	}
}

func FuzzDecodeDocument(f *testing.F) {
	for _, in := range decodeCases {
		f.Add(in)
	}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "*.json"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkDecode(t, in)
		if doc, err := Decode([]byte(in)); err == nil && fixtures.DepthOf(doc) > MaxDepth {
			t.Fatalf("decoded a document %d levels deep, over MaxDepth", fixtures.DepthOf(doc))
		}
	})
}

func BenchmarkDecodeDocument(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cimd", "web-app.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=gormstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeStandard(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
