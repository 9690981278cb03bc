package changesets_test

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
)

func TestNewError(t *testing.T) {
	t.Parallel()
	errDuplicate := errors.New("duplicate key value violates unique constraint")
	tests := []struct {
		name      string
		cause     error
		matches   []error // errors.Is must hold for each
		unrelated error   // errors.Is must not hold
	}{
		{"no cause", nil, []error{changesets.ErrInvalid}, errDuplicate},
		{"with a cause", errDuplicate, []error{changesets.ErrInvalid, errDuplicate}, fs.ErrExist},
		{"with a wrapped cause", fmt.Errorf("insert: %w", fs.ErrExist), []error{changesets.ErrInvalid, fs.ErrExist}, errDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := changesets.NewError("request_uri", "has already been taken", tt.cause)
			// Through an error interface and a further wrap, as stores
			// return it.
			var err error = fmt.Errorf("par store: %w", e)
			if got, want := e.Error(), "request_uri: has already been taken"; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			for _, target := range tt.matches {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = false", target)
				}
			}
			if errors.Is(err, tt.unrelated) {
				t.Errorf("errors.Is(err, %v) = true", tt.unrelated)
			}
			var cerr *changesets.Error
			if !errors.As(err, &cerr) || cerr != e {
				t.Fatalf("errors.As did not find the *Error")
			}
			if got := cerr.On("request_uri"); !slices.Equal(got, []string{"has already been taken"}) {
				t.Errorf("On(request_uri) = %q", got)
			}
			if got := cerr.On("params"); got != nil {
				t.Errorf("On(params) = %q, want nil", got)
			}
			if !errors.Is(cerr.Err, tt.cause) || (tt.cause == nil) != (cerr.Err == nil) {
				t.Errorf("Err = %v, want %v", cerr.Err, tt.cause)
			}
		})
	}
}

func TestErrorOn(t *testing.T) {
	t.Parallel()
	e := &changesets.Error{Fields: []changesets.FieldError{
		{Field: "url", Message: "can't be blank"},
		{Field: "metadata", Message: "first"},
		{Field: "expires_at", Message: "must be after inserted_at"},
		{Field: "metadata", Message: "second"},
	}}
	tests := []struct {
		field string
		want  []string
	}{
		{"url", []string{"can't be blank"}},
		{"metadata", []string{"first", "second"}},
		{"expires_at", []string{"must be after inserted_at"}},
		{"inserted_at", nil},
		{"", nil},
		{"URL", nil},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			t.Parallel()
			got := e.On(tt.field)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("On(%q) = %#v, want %#v", tt.field, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fields []changesets.FieldError
		want   string
	}{
		{"none", nil, ""},
		{"one", []changesets.FieldError{{Field: "url", Message: "can't be blank"}}, "url: can't be blank"},
		{
			"three, kept in order",
			[]changesets.FieldError{
				{Field: "params", Message: "b"},
				{Field: "request_uri", Message: "a"},
				{Field: "params", Message: "c; d"},
			},
			"params: b; request_uri: a; params: c; d",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &changesets.Error{Fields: tt.fields}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(e, changesets.ErrInvalid) {
				t.Error("errors.Is(e, ErrInvalid) = false")
			}
		})
	}
}

func TestFieldErrorString(t *testing.T) {
	t.Parallel()
	f := changesets.FieldError{Field: "expires_at", Message: "can't be blank"}
	if got, want := f.String(), "expires_at: can't be blank"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestCastErrorsMatchErrInvalid checks every way Cast fails, for both
// changesets, through the error interface.
func TestCastErrorsMatchErrInvalid(t *testing.T) {
	t.Parallel()
	edits := map[string]func(*input){
		"blank key":      func(in *input) { in.Key = "" },
		"bad key":        func(in *input) { in.Key = "\xff" },
		"nil document":   func(in *input) { in.Doc = nil },
		"bad document":   func(in *input) { in.Doc = map[string]any{"c": make(chan int)} },
		"no expiry":      func(in *input) { in.ExpiresAt = time.Time{} },
		"early expiry":   func(in *input) { in.ExpiresAt = in.InsertedAt },
		"no insertion":   func(in *input) { in.InsertedAt = time.Time{} },
		"all four wrong": func(in *input) { *in = input{} },
	}
	for _, k := range kinds() {
		for name, edit := range edits {
			t.Run(k.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				in := validInput(k)
				edit(&in)
				_, err := k.cast(in, changesets.Limits{})
				if !errors.Is(err, changesets.ErrInvalid) {
					t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
				}
				var cerr *changesets.Error
				if !errors.As(err, &cerr) || len(cerr.Fields) == 0 {
					t.Fatalf("errors.As(%v) found no fields", err)
				}
				for _, f := range cerr.Fields {
					if msgs := cerr.On(f.Field); !slices.Contains(msgs, f.Message) {
						t.Errorf("On(%q) = %q, missing %q", f.Field, msgs, f.Message)
					}
				}
				if cerr.Err != nil {
					t.Errorf("Err = %v, want no cause from Cast", cerr.Err)
				}
			})
		}
	}
}
