package repo

import (
	"net/url"
	"slices"

	"github.com/attesto/gormstore/changesets"
)

// ParamsFromForm turns an authorization request's form (r.PostForm of a
// PAR request, or r.Form) into the params a PARStore keeps: one string per
// parameter. RFC 6749 section 3.1: request parameters "MUST NOT be
// included more than once", so a repeated parameter is a
// *changesets.Error on its name (matching changesets.ErrInvalid); and
// parameters "sent without a value MUST be treated as if they were
// omitted", so empty ones are left out. Copying the form as it is would
// store each parameter as an array, and a client_id array binds nobody.
func ParamsFromForm(form url.Values) (map[string]any, error) {
	params := make(map[string]any, len(form))
	var repeated *changesets.Error
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var set []string
		for _, v := range form[name] {
			if v != "" {
				set = append(set, v)
			}
		}
		switch len(set) {
		case 0:
		case 1:
			params[name] = set[0]
		default:
			if repeated == nil {
				repeated = &changesets.Error{}
			}
			repeated.Fields = append(repeated.Fields, changesets.FieldError{
				Field: name, Message: "must not be included more than once (RFC 6749 section 3.1)",
			})
		}
	}
	if repeated != nil {
		return nil, repeated
	}
	return params, nil
}
