package changesets_test

import (
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
			p:    changesets.PushedAuthorizationRequest{RequestURI: requestURI, Params: map[string]any{}, ExpiresAt: insertedAt, InsertedAt: insertedAt},
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
			name:   "only secrets",
			params: map[string]any{"client_secret": "s", "client_assertion": "a"},
			want:   map[string]any{},
			exact:  `{}`,
		},
		{
			name:   "a secret that could not be encoded is dropped before encoding",
			params: map[string]any{"client_id": "c", "client_secret": "\x00\xff"},
			want:   map[string]any{"client_id": "c"},
		},
		{
			name: "look-alike keys are kept",
			params: map[string]any{
				"client_secret_hint": "x", "Client_Secret": "y", "client_assertion_types": "z",
				"nested": map[string]any{"client_secret": "inside"},
			},
			want: map[string]any{
				"client_secret_hint": "x", "Client_Secret": "y", "client_assertion_types": "z",
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
