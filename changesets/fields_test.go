package changesets_test

import (
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
)

// TestCastListsEveryFailingField checks that Cast reports all failures at
// once, in column order (key, document, expires_at, inserted_at), and that
// Error joins them with "; ".
func TestCastListsEveryFailingField(t *testing.T) {
	t.Parallel()
	type fe = changesets.FieldError
	tests := []struct {
		name      string
		edit      func(*input)
		fields    func(k kind) []fe
		wantError func(k kind) string
	}{
		{
			name: "blank key",
			edit: func(in *input) { in.Key = "" },
			fields: func(k kind) []fe {
				return []fe{{Field: k.keyField, Message: "can't be blank"}}
			},
			wantError: func(k kind) string { return k.keyField + ": can't be blank" },
		},
		{
			name: "nil document",
			edit: func(in *input) { in.Doc = nil },
			fields: func(k kind) []fe {
				return []fe{{Field: k.docField, Message: "can't be blank"}}
			},
			wantError: func(k kind) string { return k.docField + ": can't be blank" },
		},
		{
			name: "everything blank",
			edit: func(in *input) { *in = input{} },
			fields: func(k kind) []fe {
				return []fe{
					{Field: k.keyField, Message: "can't be blank"},
					{Field: k.docField, Message: "can't be blank"},
					{Field: "expires_at", Message: "can't be blank"},
					{Field: "inserted_at", Message: "can't be blank"},
				}
			},
			wantError: func(k kind) string {
				return k.keyField + ": can't be blank; " + k.docField + ": can't be blank; " +
					"expires_at: can't be blank; inserted_at: can't be blank"
			},
		},
		{
			// The document is checked after the struct tags; its error
			// must still be listed in its column's place.
			name: "unencodable document between bad key and bad inserted_at",
			edit: func(in *input) {
				in.Key = "a\x00"
				in.Doc = map[string]any{"s": "\x00"}
				in.InsertedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
				in.ExpiresAt = in.InsertedAt.Add(time.Hour)
			},
			fields: func(k kind) []fe {
				return []fe{
					{Field: k.keyField, Message: "must be valid UTF-8 without NUL bytes"},
					{Field: k.docField, Message: `must not contain NUL characters (\u0000)`},
					{Field: "expires_at", Message: "is out of range"},
					{Field: "inserted_at", Message: "is out of range"},
				}
			},
			wantError: func(k kind) string {
				return k.keyField + ": must be valid UTF-8 without NUL bytes; " +
					k.docField + `: must not contain NUL characters (\u0000); ` +
					"expires_at: is out of range; inserted_at: is out of range"
			},
		},
		{
			name: "long key, blank expires_at",
			edit: func(in *input) {
				in.Key = keyOfLen(2049)
				in.ExpiresAt = time.Time{}
			},
			fields: func(k kind) []fe {
				return []fe{
					{Field: k.keyField, Message: "should be at most 2048 byte(s)"},
					{Field: "expires_at", Message: "can't be blank"},
				}
			},
			wantError: func(k kind) string {
				return k.keyField + ": should be at most 2048 byte(s); expires_at: can't be blank"
			},
		},
		{
			name: "invalid UTF-8 document, expiry before insertion",
			edit: func(in *input) {
				in.Doc = map[string]any{"s": "\xff"}
				in.ExpiresAt = in.InsertedAt.Add(-time.Second)
			},
			fields: func(k kind) []fe {
				return []fe{
					{Field: k.docField, Message: "must hold valid UTF-8 text only"},
					{Field: "expires_at", Message: "must be after inserted_at"},
				}
			},
			wantError: func(k kind) string {
				return k.docField + ": must hold valid UTF-8 text only; expires_at: must be after inserted_at"
			},
		},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				tt.edit(&in)
				got, err := k.cast(in, changesets.Limits{})
				cerr := wantInvalid(t, err, tt.fields(k)...)
				if msg, want := cerr.Error(), tt.wantError(k); msg != want {
					t.Errorf("Error() = %q\nwant      %q", msg, want)
				}
				if got.Key != "" || got.Doc != nil || !got.ExpiresAt.IsZero() || !got.InsertedAt.IsZero() {
					t.Errorf("failed Cast returned a row: %+v", got)
				}
			})
		}
	}
}

// TestCastAcceptsAnEmptyDocument checks that "can't be blank" is about a
// missing document, not an empty one: client metadata may be empty, and
// params that hold nothing but the client_id they need are stored as such.
func TestCastAcceptsAnEmptyDocument(t *testing.T) {
	t.Parallel()
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			in := validInput(k)
			in.Doc = complete(k, map[string]any{})
			got, err := k.cast(in, changesets.Limits{})
			if err != nil {
				t.Fatalf("Cast: %v", err)
			}
			want := "{}"
			if k.docField == "params" {
				want = `{"client_id":"c"}`
			}
			if string(got.Doc) != want {
				t.Errorf("document = %q, want %s", got.Doc, want)
			}
		})
	}
}
