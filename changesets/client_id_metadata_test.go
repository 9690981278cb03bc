package changesets_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/models"
)

func TestClientIDMetadataCast(t *testing.T) {
	t.Parallel()
	metadata := map[string]any{
		"client_id":         cimdURL,
		"client_name":       "Example <Client> \uFFFD",
		"redirect_uris":     []any{"https://client.example/cb", "https://client.example/cb2"},
		"grant_types":       []string{"authorization_code"},
		"default_max_age":   json.Number("9007199254740993"),
		"require_auth_time": true,
		"logo_uri":          nil,
		"jwks":              map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}},
	}
	c := changesets.ClientIDMetadata{
		URL:        cimdURL,
		Metadata:   metadata,
		InsertedAt: time.Date(2030, 1, 2, 3, 4, 5, 123456789, plusFiveThirty),
		ExpiresAt:  time.Date(2030, 1, 2, 4, 4, 5, 987654321, plusFiveThirty),
	}
	got, err := c.Cast(changesets.Limits{})
	if err != nil {
		t.Fatalf("Cast: %v", err)
	}
	if got.URL != cimdURL {
		t.Errorf("URL = %q, want %q", got.URL, cimdURL)
	}
	wantDoc(t, got.Metadata, metadata)
	wantInserted := time.Date(2030, 1, 1, 21, 34, 5, 123456000, time.UTC)
	wantExpires := time.Date(2030, 1, 1, 22, 34, 5, 987654000, time.UTC)
	if !got.InsertedAt.Equal(wantInserted) || got.InsertedAt.Location() != time.UTC {
		t.Errorf("InsertedAt = %v, want %v", got.InsertedAt, wantInserted)
	}
	if !got.ExpiresAt.Equal(wantExpires) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, wantExpires)
	}
	// The caller's changeset is a value: Cast must not have changed it.
	if c.InsertedAt.Nanosecond() != 123456789 || c.InsertedAt.Location() != plusFiveThirty {
		t.Errorf("Cast changed the caller's InsertedAt to %v", c.InsertedAt)
	}
}

func TestClientIDMetadataCastFailsWithoutARow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    changesets.ClientIDMetadata
		want string
	}{
		{
			name: "zero changeset",
			want: "url: can't be blank; metadata: can't be blank; expires_at: can't be blank; inserted_at: can't be blank",
		},
		{
			name: "only the document is bad",
			c:    changesets.ClientIDMetadata{URL: cimdURL, Metadata: map[string]any{"s": "\x00"}, ExpiresAt: expiresAt, InsertedAt: insertedAt},
			want: `metadata: must not contain NUL characters (\u0000)`,
		},
		{
			name: "missing expiry",
			c:    changesets.ClientIDMetadata{URL: cimdURL, Metadata: map[string]any{}, InsertedAt: insertedAt},
			want: "expires_at: can't be blank",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.c.Cast(changesets.Limits{})
			if err == nil {
				t.Fatalf("Cast succeeded with %+v", got)
			}
			if err.Error() != tt.want {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tt.want)
			}
			if !reflect.DeepEqual(got, models.ClientIDMetadata{}) {
				t.Errorf("failed Cast returned a row: %+v", got)
			}
		})
	}
}
