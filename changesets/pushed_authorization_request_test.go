package changesets_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/models"
)

func TestPushedAuthorizationRequestCast(t *testing.T) {
	t.Parallel()
	params := map[string]any{
		"response_type":         "code",
		"client_id":             "s6BhdRkqt3",
		"redirect_uri":          "https://client.example.org/cb",
		"code_challenge":        "K2-ltc83acc4h0c9w6ESC_rEMTJ3bww-uCHaoeK1t8U",
		"code_challenge_method": "S256",
		"authorization_details": []any{map[string]any{"type": "payment_initiation", "amount": map[string]any{"value": "123.50"}}},
	}
	p := changesets.PushedAuthorizationRequest{
		RequestURI: requestURI,
		Params:     params,
		InsertedAt: time.Date(2030, 1, 2, 3, 4, 5, 1999, minusThreeThirty),
		ExpiresAt:  time.Date(2030, 1, 2, 3, 5, 35, 999999999, minusThreeThirty),
	}
	got, err := p.Cast(changesets.Limits{})
	if err != nil {
		t.Fatalf("Cast: %v", err)
	}
	if got.RequestURI != requestURI {
		t.Errorf("RequestURI = %q, want %q", got.RequestURI, requestURI)
	}
	wantDoc(t, got.Params, params)
	wantInserted := time.Date(2030, 1, 2, 6, 34, 5, 1000, time.UTC)
	wantExpires := time.Date(2030, 1, 2, 6, 35, 35, 999999000, time.UTC)
	if !got.InsertedAt.Equal(wantInserted) || got.InsertedAt.Location() != time.UTC {
		t.Errorf("InsertedAt = %v, want %v", got.InsertedAt, wantInserted)
	}
	if !got.ExpiresAt.Equal(wantExpires) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, wantExpires)
	}
}

func TestPushedAuthorizationRequestCastFailsWithoutARow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    changesets.PushedAuthorizationRequest
		want string
	}{
		{
			name: "zero changeset",
			want: "request_uri: can't be blank; params: can't be blank; expires_at: can't be blank; inserted_at: can't be blank",
		},
		{
			name: "expiry not after insertion",
			p:    changesets.PushedAuthorizationRequest{RequestURI: requestURI, Params: map[string]any{"client_id": "c"}, ExpiresAt: insertedAt, InsertedAt: insertedAt},
			want: "expires_at: must be after inserted_at",
		},
		{
			name: "bad document, missing insertion time",
			p:    changesets.PushedAuthorizationRequest{RequestURI: requestURI, Params: map[string]any{"a\xff": 1}, ExpiresAt: expiresAt},
			want: "params: must hold valid UTF-8 text only; inserted_at: can't be blank",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.p.Cast(changesets.Limits{})
			if err == nil {
				t.Fatalf("Cast succeeded with %+v", got)
			}
			if err.Error() != tt.want {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tt.want)
			}
			if !reflect.DeepEqual(got, models.PushedAuthorizationRequest{}) {
				t.Errorf("failed Cast returned a row: %+v", got)
			}
		})
	}
}

func TestPushedAuthorizationRequestCastDropsClientSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]any
		want   map[string]any // the stored params
		exact  string         // the stored encoding, when worth pinning
	}{
		{
			name: "client_secret",
			params: map[string]any{
				"client_id": "c", "response_type": "code", "client_secret": "s3cr3t",
			},
			want: map[string]any{"client_id": "c", "response_type": "code"},
		},
		{
			name: "client assertion",
			params: map[string]any{
				"client_id":             "c",
				"client_assertion":      "eyJhbGciOiJFUzI1NiJ9.e30.sig",
				"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
				"scope":                 "openid",
			},
			want: map[string]any{"client_id": "c", "scope": "openid"},
		},
		{
			name: "all three",
			params: map[string]any{
				"client_id": "c", "client_secret": "s", "client_assertion": "a", "client_assertion_type": "t",
			},
			want:  map[string]any{"client_id": "c"},
			exact: `{"client_id":"c"}`,
		},
		{
			name:   "a secret that could not be encoded is dropped before encoding",
			params: map[string]any{"client_id": "c", "client_secret": "\x00\xff"},
			want:   map[string]any{"client_id": "c"},
		},
		{
			name: "look-alike keys are kept",
			params: map[string]any{
				"client_id": "c", "client_secret_hint": "x", "Client_Secret": "y", "client_assertion_types": "z",
				"nested": map[string]any{"client_secret": "inside"},
			},
			want: map[string]any{
				"client_id": "c", "client_secret_hint": "x", "Client_Secret": "y", "client_assertion_types": "z",
				"nested": map[string]any{"client_secret": "inside"},
			},
		},
		{
			name:   "no secrets",
			params: map[string]any{"client_id": "c", "response_type": "code", "state": "xyz"},
			want:   map[string]any{"client_id": "c", "response_type": "code", "state": "xyz"},
			exact:  `{"client_id":"c","response_type":"code","state":"xyz"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := maps.Clone(tt.params)
			got, err := changesets.PushedAuthorizationRequest{
				RequestURI: requestURI, Params: tt.params, ExpiresAt: expiresAt, InsertedAt: insertedAt,
			}.Cast(changesets.Limits{})
			if err != nil {
				t.Fatalf("Cast: %v", err)
			}
			wantDoc(t, got.Params, tt.want)
			if tt.exact != "" && string(got.Params) != tt.exact {
				t.Errorf("params = %s, want %s", got.Params, tt.exact)
			}
			if !reflect.DeepEqual(tt.params, before) {
				t.Errorf("Cast modified the caller's params: %v, was %v", tt.params, before)
			}
		})
	}
}

// TestPushedAuthorizationRequestCastSecretsDoNotCountTowardsTheLimit
// checks that the limits apply to what is stored: a large client
// assertion is dropped, not measured.
func TestPushedAuthorizationRequestCastSecretsDoNotCountTowardsTheLimit(t *testing.T) {
	t.Parallel()
	params := map[string]any{"client_id": "c", "client_assertion": strings.Repeat("x", 1000)}
	got, err := changesets.PushedAuthorizationRequest{
		RequestURI: requestURI, Params: params, ExpiresAt: expiresAt, InsertedAt: insertedAt,
	}.Cast(changesets.Limits{MaxDocumentBytes: 64})
	if err != nil {
		t.Fatalf("Cast: %v", err)
	}
	if string(got.Params) != `{"client_id":"c"}` {
		t.Errorf("params = %s, want {\"client_id\":\"c\"}", got.Params)
	}
}

func TestClientSecretParams(t *testing.T) {
	t.Parallel()
	want := []string{"client_assertion", "client_assertion_type", "client_secret"}
	got := slices.Sorted(slices.Values(changesets.ClientSecretParams))
	if !slices.Equal(got, want) {
		t.Errorf("ClientSecretParams = %q, want %q", got, want)
	}
}

// clientID is a named string type, as a caller's own model may hold a
// client_id.
type clientID string

// TestPushedAuthorizationRequestCastRequiresClientID checks that the params
// must hold client_id as a non-empty JSON string, whatever Go type encodes
// it, and that nothing else passes: not an array (a url.Values copied as it
// is), not a client_id nested deeper or spelt differently.
func TestPushedAuthorizationRequestCastRequiresClientID(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	const got = "client_id: must be a non-empty string (RFC 6749 section 4.1.1), got "
	notAKey := fmt.Sprintf("client_id: must be at most %d bytes", changesets.MaxKeyBytes)
	tests := []struct {
		name   string
		params map[string]any
		want   string // the client_id stored; "" when refused
		msg    string // the message on params when refused
	}{
		{name: "string", params: map[string]any{"client_id": "s6BhdRkqt3"}, want: "s6BhdRkqt3"},
		{name: "named string type", params: map[string]any{"client_id": clientID("s6BhdRkqt3")}, want: "s6BhdRkqt3"},
		{name: "RawMessage string", params: map[string]any{"client_id": raw(` "s6BhdRkqt3" `)}, want: "s6BhdRkqt3"},
		{name: "RawMessage string with escapes", params: map[string]any{"client_id": raw(`"s6\u0042\""`)}, want: `s6B"`},
		{name: "quote only", params: map[string]any{"client_id": `"`}, want: `"`},
		{name: "blank but not empty", params: map[string]any{"client_id": " "}, want: " "},
		{name: "after a nested client_id", params: map[string]any{"a": map[string]any{"client_id": 1}, "client_id": "c"}, want: "c"},
		{name: "with client secrets", params: map[string]any{"client_id": "c", "client_secret": "s"}, want: "c"},

		{name: "missing", params: map[string]any{"response_type": "code"}, msg: got + "none"},
		{name: "empty params", params: map[string]any{}, msg: got + "none"},
		{name: "only client secrets", params: map[string]any{"client_secret": "s", "client_assertion": "a"}, msg: got + "none"},
		{name: "empty string", params: map[string]any{"client_id": ""}, msg: got + "an empty string"},
		{name: "empty named string", params: map[string]any{"client_id": clientID("")}, msg: got + "an empty string"},
		{name: "RawMessage empty string", params: map[string]any{"client_id": raw(`""`)}, msg: got + "an empty string"},
		{name: "url.Values copied as it is", params: map[string]any{"client_id": []string{"s6BhdRkqt3"}}, msg: got + "an array"},
		{name: "array", params: map[string]any{"client_id": []any{"s6BhdRkqt3"}}, msg: got + "an array"},
		{name: "RawMessage array", params: map[string]any{"client_id": raw(`["s6BhdRkqt3"]`)}, msg: got + "an array"},
		{name: "object", params: map[string]any{"client_id": map[string]any{"id": "c"}}, msg: got + "an object"},
		{name: "number", params: map[string]any{"client_id": 42}, msg: got + "a number"},
		{name: "negative json.Number", params: map[string]any{"client_id": json.Number("-1")}, msg: got + "a number"},
		{name: "null", params: map[string]any{"client_id": nil}, msg: got + "null"},
		{name: "RawMessage null", params: map[string]any{"client_id": raw(`null`)}, msg: got + "null"},
		{name: "boolean", params: map[string]any{"client_id": true}, msg: got + "a boolean"},
		{name: "false", params: map[string]any{"client_id": false}, msg: got + "a boolean"},
		{name: "only nested", params: map[string]any{"a": map[string]any{"client_id": "c"}, "l": []any{"client_id", "c"}}, msg: got + "none"},
		{name: "only as a value", params: map[string]any{"x": "client_id", "y": "c"}, msg: got + "none"},
		{name: "other spelling", params: map[string]any{"Client_ID": "c", "client_id ": "c"}, msg: got + "none"},
		{name: "after a nested string client_id", params: map[string]any{"a": map[string]any{"client_id": "c"}, "client_id": 5}, msg: got + "a number"},
		// What the lookups for a client could never match.
		{name: "longest key", params: map[string]any{"client_id": strings.Repeat("c", changesets.MaxKeyBytes)}, want: strings.Repeat("c", changesets.MaxKeyBytes)},
		{name: "longer than a key", params: map[string]any{"client_id": strings.Repeat("c", changesets.MaxKeyBytes+1)}, msg: notAKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			row, err := changesets.PushedAuthorizationRequest{
				RequestURI: requestURI, Params: tt.params, ExpiresAt: expiresAt, InsertedAt: insertedAt,
			}.Cast(changesets.Limits{})
			if tt.msg != "" {
				wantInvalid(t, err, changesets.FieldError{Field: "params", Message: tt.msg})
				if !reflect.DeepEqual(row, models.PushedAuthorizationRequest{}) {
					t.Errorf("failed Cast returned a row: %+v", row)
				}
				return
			}
			if err != nil {
				t.Fatalf("Cast: %v", err)
			}
			var stored struct {
				ClientID string `json:"client_id"`
			}
			if err := json.Unmarshal(row.Params, &stored); err != nil || stored.ClientID != tt.want {
				t.Errorf("stored params %s: client_id = %q (%v), want %q", row.Params, stored.ClientID, err, tt.want)
			}
		})
	}
}
