package repo_test

import (
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/repo"
)

func TestParamsFromForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		form     url.Values
		want     map[string]any
		repeated []string
	}{
		{"one value each", url.Values{"client_id": {"c"}, "scope": {"openid"}}, map[string]any{"client_id": "c", "scope": "openid"}, nil},
		{"empty values are omitted", url.Values{"client_id": {"c"}, "state": {""}}, map[string]any{"client_id": "c"}, nil},
		{"an empty repeat is no repeat", url.Values{"client_id": {"c", ""}}, map[string]any{"client_id": "c"}, nil},
		{"empty form", url.Values{}, map[string]any{}, nil},
		{"a repeated client_id", url.Values{"client_id": {"a", "b"}, "scope": {"openid"}}, nil, []string{"client_id"}},
		{"the same value twice", url.Values{"scope": {"openid", "openid"}}, nil, []string{"scope"}},
		{"every repeated parameter named, in order", url.Values{"scope": {"a", "b"}, "client_id": {"a", "b"}}, nil, []string{"client_id", "scope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := repo.ParamsFromForm(tc.form)
			if tc.repeated == nil {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("ParamsFromForm = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			var cerr *changesets.Error
			if got != nil || !errors.Is(err, changesets.ErrInvalid) || !errors.As(err, &cerr) {
				t.Fatalf("ParamsFromForm = %v, %v; want an ErrInvalid changeset error", got, err)
			}
			var fields []string
			for _, f := range cerr.Fields {
				fields = append(fields, f.Field)
			}
			if !reflect.DeepEqual(fields, tc.repeated) {
				t.Errorf("error names %v, want %v", fields, tc.repeated)
			}
		})
	}
}
