package gormfosite_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"gorm.io/gorm"

	"github.com/attesto/gormstore/changesets"
	gormfosite "github.com/attesto/gormstore/contrib/fosite"
	"github.com/attesto/gormstore/internal/testdb"
	"github.com/attesto/gormstore/repo"
)

const parTable = "attesto_pushed_authorization_requests"

// parFixture is a PARStorage on a fresh schema, the repo store under it,
// and the MemoryStore holding its clients "app" and "other".
type parFixture struct {
	db    *gorm.DB
	store *repo.GormPARStore
	pars  *gormfosite.PARStorage
	mem   *storage.MemoryStore
}

func newPARFixture(t *testing.T) parFixture {
	t.Helper()
	f := parFixture{db: testdb.Open(t, newSchema(t), 4), mem: storage.NewMemoryStore()}
	for _, id := range []string{appClientID, otherClientID} {
		f.mem.Clients[id] = &fosite.DefaultClient{ID: id, Public: true, RedirectURIs: []string{redirectURI}}
	}
	var err error
	if f.store, err = repo.NewGormPARStore(f.db, nil); err != nil {
		t.Fatal(err)
	}
	if f.pars, err = gormfosite.NewPARStorage(&gormfosite.PARConfig{
		Store: f.store, Clients: f.mem,
		NewSession: func() fosite.Session { return new(openid.DefaultSession) },
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// pushedRequest is an authorize request as fosite's PAR handler hands it
// to CreatePARSession, every field set.
func pushedRequest(t *testing.T, clientID string, parExpiry time.Time) *fosite.AuthorizeRequest {
	t.Helper()
	ar := fosite.NewAuthorizeRequest()
	ar.ID = "request-" + randomString(6)
	ar.RequestedAt = time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	ar.Client = &fosite.DefaultClient{ID: clientID}
	ar.Form = url.Values{
		"client_id":             {clientID},
		"client_secret":         {"s3cret"},
		"client_assertion":      {"eyJhbGciOi..."},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"scope":                 {"openid profile"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"claims":                {`{"id_token":{"email":null}}`},
		"multi":                 {"a", "b"},
	}
	ar.RequestedScope = fosite.Arguments{"openid", "profile"}
	ar.GrantedScope = fosite.Arguments{"openid"}
	ar.RequestedAudience = fosite.Arguments{"https://api.example"}
	ar.GrantedAudience = fosite.Arguments{"https://api.example"}
	ar.RedirectURI, _ = url.Parse("https://app.example/cb?x=1")
	ar.State = "state-0123456789"
	ar.ResponseTypes = fosite.Arguments{"code", "id_token"}
	ar.ResponseMode = fosite.ResponseModeFormPost
	ar.DefaultResponseMode = fosite.ResponseModeFragment
	s := &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: "alice", Extra: map[string]any{"n": 1.5, "s": "x"}},
		Headers: &jwt.Headers{Extra: map[string]any{"kid": "k1"}},
		Subject: "alice",
	}
	if !parExpiry.IsZero() {
		s.SetExpiresAt(fosite.PushedAuthorizeRequestContext, parExpiry)
	}
	ar.Session = s
	return ar
}

// CreatePARSession stores every field of the request, the client at the
// top level and the client's credentials nowhere; GetPARSession gives it
// back as fosite pushed it, once.
func TestPARSessionRoundTrip(t *testing.T) {
	f := newPARFixture(t)
	ctx := context.Background()
	requestURI := repo.NewRequestURI()
	in := pushedRequest(t, appClientID, time.Now().Add(time.Minute).UTC().Truncate(time.Second))
	if err := f.pars.CreatePARSession(ctx, requestURI, in); err != nil {
		t.Fatal(err)
	}

	stored, found, err := f.store.Fetch(ctx, requestURI)
	if err != nil || !found {
		t.Fatalf("Fetch: %v %v", found, err)
	}
	if stored["client_id"] != appClientID {
		t.Fatalf("stored client_id %v, want %q at the top level", stored["client_id"], appClientID)
	}
	for _, secret := range []string{"s3cret", "eyJhbGciOi", "client_secret", "client_assertion"} {
		if raw := rawParams(t, f.db); strings.Contains(raw, secret) {
			t.Fatalf("stored params hold %q: %s", secret, raw)
		}
	}

	got, err := f.pars.GetPARSession(gormfosite.WithPresentingClient(ctx, appClientID), requestURI)
	if err != nil {
		t.Fatal(err)
	}
	out := got.(*fosite.AuthorizeRequest)
	wantForm := url.Values{}
	for k, vs := range in.Form {
		if !strings.HasPrefix(k, "client_") || k == "client_id" {
			wantForm[k] = vs
		}
	}
	for _, c := range []struct {
		field     string
		got, want any
	}{
		{"ID", out.ID, in.ID},
		{"RequestedAt", out.RequestedAt, in.RequestedAt},
		{"Client", out.Client.GetID(), appClientID},
		{"Form", out.Form, wantForm},
		{"RequestedScope", out.RequestedScope, in.RequestedScope},
		{"GrantedScope", out.GrantedScope, in.GrantedScope},
		{"RequestedAudience", out.RequestedAudience, in.RequestedAudience},
		{"GrantedAudience", out.GrantedAudience, in.GrantedAudience},
		{"RedirectURI", out.RedirectURI.String(), in.RedirectURI.String()},
		{"State", out.State, in.State},
		{"ResponseTypes", out.ResponseTypes, in.ResponseTypes},
		{"ResponseMode", out.ResponseMode, in.ResponseMode},
		{"DefaultResponseMode", out.DefaultResponseMode, in.DefaultResponseMode},
		{"Session", out.Session, in.Session},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.field, c.got, c.want)
		}
	}
	// The client is looked up again, not rebuilt from the push.
	if out.Client != f.mem.Clients[appClientID] {
		t.Errorf("client %#v is not the manager's", out.Client)
	}

	if _, err := f.pars.GetPARSession(ctx, requestURI); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("second Get: %v, want fosite.ErrNotFound", err)
	}
	if err := f.pars.DeletePARSession(ctx, requestURI); err != nil {
		t.Fatalf("Delete after the Get consumed it: %v", err)
	}
}

func rawParams(t *testing.T, db *gorm.DB) string {
	t.Helper()
	var raw []string
	if err := db.Table(parTable).Pluck("params", &raw).Error; err != nil {
		t.Fatal(err)
	}
	return strings.Join(raw, "\n")
}

// A request CreatePARSession cannot store faithfully, or whose expiry the
// store refuses, is an error and stores nothing.
func TestCreatePARSessionRefuses(t *testing.T) {
	soon := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		name    string
		request func(t *testing.T) fosite.AuthorizeRequester
		// invalid is true for ErrInvalidRequest, false for the store's
		// validation error.
		invalid bool
		want    string
	}{
		{"no client", func(t *testing.T) fosite.AuthorizeRequester {
			ar := pushedRequest(t, appClientID, soon)
			ar.Client = nil
			return ar
		}, true, "no client"},
		{"no session", func(t *testing.T) fosite.AuthorizeRequester {
			ar := pushedRequest(t, appClientID, soon)
			ar.Session = nil
			return ar
		}, true, "no session"},
		{"a nil session pointer", func(t *testing.T) fosite.AuthorizeRequester {
			ar := pushedRequest(t, appClientID, soon)
			ar.Session = (*openid.DefaultSession)(nil)
			return ar
		}, true, "no session"},
		{"another session type", func(t *testing.T) fosite.AuthorizeRequester {
			ar := pushedRequest(t, appClientID, soon)
			s := &fosite.DefaultSession{Subject: "alice"}
			s.SetExpiresAt(fosite.PushedAuthorizeRequestContext, soon)
			ar.Session = s
			return ar
		}, true, "*fosite.DefaultSession"},
		{"no PAR expiry", func(t *testing.T) fosite.AuthorizeRequester {
			return pushedRequest(t, appClientID, time.Time{})
		}, true, "no expiry"},
		{"expired", func(t *testing.T) fosite.AuthorizeRequester {
			return pushedRequest(t, appClientID, time.Now().Add(-time.Second))
		}, false, "not positive"},
		{"beyond the store's MaxPARTTL", func(t *testing.T) fosite.AuthorizeRequester {
			return pushedRequest(t, appClientID, time.Now().Add(repo.DefaultMaxPARTTL+time.Minute))
		}, false, "exceeds the store's maximum"},
		{"invalid UTF-8 in the form", func(t *testing.T) fosite.AuthorizeRequester {
			ar := pushedRequest(t, appClientID, soon)
			ar.Form.Set("state", "\xff")
			return ar
		}, false, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPARFixture(t)
			err := f.pars.CreatePARSession(context.Background(), repo.NewRequestURI(), tc.request(t))
			var cs *changesets.Error
			switch {
			case err == nil:
				t.Fatal("stored")
			case tc.invalid != errors.Is(err, gormfosite.ErrInvalidRequest):
				t.Fatalf("%v: ErrInvalidRequest %v, want %v", err, !tc.invalid, tc.invalid)
			case !tc.invalid && !errors.As(err, &cs):
				t.Fatalf("%v: not the store's validation error", err)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("%v: does not say %q", err, tc.want)
			}
			if n := testdb.Count(t, f.db, parTable); n != 0 {
				t.Fatalf("%d rows stored", n)
			}
		})
	}
}

// GetPARSession resolves a request_uri only for the client that pushed it
// when ctx names the presenting client, and another client's attempt
// leaves it stored.
func TestGetPARSessionBinding(t *testing.T) {
	fositeRequest := func(clientID string) context.Context {
		r := &http.Request{Form: url.Values{"client_id": {clientID}}}
		return context.WithValue(context.Background(), fosite.RequestContextKey, r)
	}
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		presenter string
		bound     bool
		found     bool
	}{
		{"WithPresentingClient, the owner", gormfosite.WithPresentingClient(context.Background(), appClientID), appClientID, true, true},
		{"WithPresentingClient, another client", gormfosite.WithPresentingClient(context.Background(), otherClientID), otherClientID, true, false},
		{"fosite's request, the owner", fositeRequest(appClientID), appClientID, true, true},
		{"fosite's request, another client", fositeRequest(otherClientID), otherClientID, true, false},
		{"fosite's request without client_id", fositeRequest(""), "", true, false},
		{"WithPresentingClient before fosite's request", gormfosite.WithPresentingClient(fositeRequest(otherClientID), appClientID), appClientID, true, true},
		{"fosite's request with an unparsed form: unbound", context.WithValue(context.Background(), fosite.RequestContextKey, &http.Request{}), "", false, true},
		{"nothing: unbound", context.Background(), "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if id, ok := gormfosite.PresentingClient(tc.ctx); id != tc.presenter || ok != tc.bound {
				t.Fatalf("PresentingClient: %q %v, want %q %v", id, ok, tc.presenter, tc.bound)
			}
			f := newPARFixture(t)
			requestURI := repo.NewRequestURI()
			if err := f.pars.CreatePARSession(context.Background(), requestURI, pushedRequest(t, appClientID, time.Now().Add(time.Minute))); err != nil {
				t.Fatal(err)
			}
			ar, err := f.pars.GetPARSession(tc.ctx, requestURI)
			if !tc.found {
				if !errors.Is(err, fosite.ErrNotFound) {
					t.Fatalf("Get: %v, want fosite.ErrNotFound", err)
				}
				// Untouched: the owner still gets it.
				if n := testdb.Count(t, f.db, parTable); n != 1 {
					t.Fatalf("%d rows after another client's Get, want 1", n)
				}
				if _, err := f.pars.GetPARSession(gormfosite.WithPresentingClient(context.Background(), appClientID), requestURI); err != nil {
					t.Fatalf("the owner afterwards: %v", err)
				}
				return
			}
			if err != nil || ar.GetClient().GetID() != appClientID {
				t.Fatalf("Get: %v %v", ar, err)
			}
			if n := testdb.Count(t, f.db, parTable); n != 0 {
				t.Fatalf("%d rows after Get, want 0", n)
			}
		})
	}
}

// DeletePARSession removes a stored request under GetPARSession's binding,
// and a request_uri not stored (the Get before it consumed it) is not an
// error.
func TestDeletePARSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored bool
		ctx    context.Context
		left   int64
	}{
		{"not stored", false, context.Background(), 0},
		{"stored, unbound", true, context.Background(), 0},
		{"stored, the owner", true, gormfosite.WithPresentingClient(context.Background(), appClientID), 0},
		{"stored, another client", true, gormfosite.WithPresentingClient(context.Background(), otherClientID), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPARFixture(t)
			requestURI := repo.NewRequestURI()
			if tc.stored {
				if err := f.pars.CreatePARSession(context.Background(), requestURI, pushedRequest(t, appClientID, time.Now().Add(time.Minute))); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.pars.DeletePARSession(tc.ctx, requestURI); err != nil {
				t.Fatal(err)
			}
			if n := testdb.Count(t, f.db, parTable); n != tc.left {
				t.Fatalf("%d rows left, want %d", n, tc.left)
			}
		})
	}
}

// A stored request this version cannot read is ErrCorrupt, not a miss;
// it is consumed all the same.
func TestGetPARSessionCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"another format", map[string]any{"format": 2, "client_id": appClientID}},
		{"no format", map[string]any{"client_id": appClientID, "form": map[string]any{}}},
		{"a session that is not an object", map[string]any{"format": 1, "client_id": appClientID, "session": "alice"}},
		{"a form that is not one", map[string]any{"format": 1, "client_id": appClientID, "form": []any{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPARFixture(t)
			requestURI := repo.NewRequestURI()
			if err := f.store.Put(context.Background(), requestURI, tc.params, time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := f.pars.GetPARSession(context.Background(), requestURI); !errors.Is(err, gormfosite.ErrCorrupt) {
				t.Fatalf("Get: %v, want ErrCorrupt", err)
			}
			if n := testdb.Count(t, f.db, parTable); n != 0 {
				t.Fatalf("%d rows left, want 0", n)
			}
		})
	}
}

// A client the manager no longer knows fails the Get with the manager's
// error.
func TestGetPARSessionClientGone(t *testing.T) {
	f := newPARFixture(t)
	requestURI := repo.NewRequestURI()
	if err := f.pars.CreatePARSession(context.Background(), requestURI, pushedRequest(t, appClientID, time.Now().Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	delete(f.mem.Clients, appClientID)
	_, err := f.pars.GetPARSession(context.Background(), requestURI)
	if err == nil || !strings.Contains(err.Error(), "client") {
		t.Fatalf("Get: %v, want the client lookup's error", err)
	}
}

// Without its database, every method fails with an error, and Get's is
// not a miss.
func TestPARStorageFailsClosed(t *testing.T) {
	f := newPARFixture(t)
	requestURI := repo.NewRequestURI()
	if err := f.pars.CreatePARSession(context.Background(), requestURI, pushedRequest(t, appClientID, time.Now().Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	sqlDB, err := f.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	ctx := context.Background()
	if err := f.pars.CreatePARSession(ctx, repo.NewRequestURI(), pushedRequest(t, appClientID, time.Now().Add(time.Minute))); err == nil {
		t.Error("Create succeeded")
	}
	if _, err := f.pars.GetPARSession(ctx, requestURI); err == nil || errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("Get: %v, want a database error", err)
	}
	if err := f.pars.DeletePARSession(ctx, requestURI); err == nil {
		t.Error("Delete succeeded")
	}
}

func TestNewPARStorageConfig(t *testing.T) {
	store := repo.NewMemoryPARStore(nil)
	mem := storage.NewMemoryStore()
	newSession := func() fosite.Session { return new(openid.DefaultSession) }
	for _, tc := range []struct {
		name string
		cfg  gormfosite.PARConfig
	}{
		{"no Store", gormfosite.PARConfig{Clients: mem, NewSession: newSession}},
		{"no Clients", gormfosite.PARConfig{Store: store, NewSession: newSession}},
		{"no NewSession", gormfosite.PARConfig{Store: store, Clients: mem}},
		{"NewSession makes nil", gormfosite.PARConfig{Store: store, Clients: mem, NewSession: func() fosite.Session { return (*openid.DefaultSession)(nil) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gormfosite.NewPARStorage(&tc.cfg); !errors.Is(err, gormfosite.ErrConfig) {
				t.Fatalf("%v, want ErrConfig", err)
			}
		})
	}
	if _, err := gormfosite.NewPARStorage(nil); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("NewPARStorage(nil) = %v, want ErrConfig", err)
	}
	var zero gormfosite.PARStorage
	ctx := context.Background()
	if err := zero.CreatePARSession(ctx, "x", fosite.NewAuthorizeRequest()); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("zero Create: %v", err)
	}
	if _, err := zero.GetPARSession(ctx, "x"); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("zero Get: %v", err)
	}
	if err := zero.DeletePARSession(ctx, "x"); !errors.Is(err, gormfosite.ErrConfig) {
		t.Errorf("zero Delete: %v", err)
	}
}
