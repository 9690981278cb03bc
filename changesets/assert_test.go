package changesets_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/attesto/gormstore/changesets"
)

// wantInvalid asserts that err is a changeset failure listing exactly want,
// in order, and returns it.
func wantInvalid(t *testing.T, err error, want ...changesets.FieldError) *changesets.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("Cast succeeded; want error %v", want)
	}
	if !errors.Is(err, changesets.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	var cerr *changesets.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("errors.As(%v, *changesets.Error) = false (%T)", err, err)
	}
	if !slices.Equal(cerr.Fields, want) {
		t.Fatalf("fields = %q\nwant     %q", cerr.Fields, want)
	}
	for _, f := range want {
		if !slices.Contains(cerr.On(f.Field), f.Message) {
			t.Errorf("On(%q) = %q, want it to hold %q", f.Field, cerr.On(f.Field), f.Message)
		}
	}
	return cerr
}

// docMessage returns the single message Cast gave on the document field,
// failing the test unless that is the only failure.
func docMessage(t *testing.T, k kind, err error) string {
	t.Helper()
	if err == nil {
		t.Fatalf("Cast succeeded; want an error on %s", k.docField)
	}
	if !errors.Is(err, changesets.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	var cerr *changesets.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("errors.As(%v, *changesets.Error) = false (%T)", err, err)
	}
	if len(cerr.Fields) != 1 || cerr.Fields[0].Field != k.docField {
		t.Fatalf("fields = %q, want one failure on %s", cerr.Fields, k.docField)
	}
	if msgs := cerr.On(k.docField); !slices.Equal(msgs, []string{cerr.Fields[0].Message}) {
		t.Errorf("On(%q) = %q, want %q", k.docField, msgs, cerr.Fields[0].Message)
	}
	return cerr.Fields[0].Message
}

// wantDoc asserts that doc is JSON decoding to the normalised want.
func wantDoc(t *testing.T, doc []byte, want any) {
	t.Helper()
	got, err := decodeJSON(doc)
	if err != nil {
		t.Fatalf("stored document %q is not JSON: %v", doc, err)
	}
	if w := normalize(t, want); !jsonEqual(got, w) {
		t.Fatalf("stored document decodes to %#v\nwant %#v", got, w)
	}
}
