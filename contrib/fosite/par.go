package gormfosite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"time"

	"github.com/ory/fosite"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/repo"
)

// PARConfig configures a PARStorage. Store, Clients and NewSession are
// required.
type PARConfig struct {
	// Store keeps the pushed requests: repo.NewGormPARStore(db, cfg) for
	// a cluster, repo.NewMemoryPARStore for one node. Its Config.MaxPARTTL
	// (default 10 minutes) bounds fosite's PushedAuthorizeContextLifespan
	// (default 5 minutes): a longer lifespan makes every push fail.
	// Required.
	Store repo.ClientBoundPARStore
	// Clients looks up the pushed request's client when the request is
	// resolved, as fosite's NewAuthorizeRequest would have: usually the
	// same manager fosite's storage serves (a ClientManager of this
	// package, or the application's own). Required.
	Clients fosite.ClientManager
	// NewSession returns an empty session of the type the application
	// passes to NewPushedAuthorizeResponse, for the stored session to be
	// decoded into, as hydra does with its own session type. A pushed
	// request whose session is of another type is refused with
	// ErrInvalidRequest, rather than stored to lose fields on the way back.
	// Required.
	NewSession func() fosite.Session
	// Now is the clock the ttl is computed with, from the expiry fosite
	// set for the PAR context. Use the store's clock (repo.Config.Now).
	// Default: time.Now.
	Now func() time.Time
}

// PARStorage is fosite.PARStorage on a repo.ClientBoundPARStore: a
// request_uri pushed to one node resolves on every node, once, and only
// for the client that pushed it. Make one with NewPARStorage.
type PARStorage struct {
	store      repo.ClientBoundPARStore
	clients    fosite.ClientManager
	newSession func() fosite.Session
	now        func() time.Time
}

var _ fosite.PARStorage = (*PARStorage)(nil)

// NewPARStorage returns a PARStorage with cfg's settings, or ErrConfig if
// cfg is nil or a required field is missing.
func NewPARStorage(cfg *PARConfig) (*PARStorage, error) {
	switch {
	case cfg == nil:
		return nil, fmt.Errorf("gormfosite: new PAR storage: %w: no PARConfig", ErrConfig)
	case cfg.Store == nil:
		return nil, fmt.Errorf("gormfosite: new PAR storage: %w: PARConfig.Store is required", ErrConfig)
	case cfg.Clients == nil:
		return nil, fmt.Errorf("gormfosite: new PAR storage: %w: PARConfig.Clients is required", ErrConfig)
	case cfg.NewSession == nil:
		return nil, fmt.Errorf("gormfosite: new PAR storage: %w: PARConfig.NewSession is required", ErrConfig)
	}
	if probe := cfg.NewSession(); probe == nil || isNilPointer(probe) {
		return nil, fmt.Errorf("gormfosite: new PAR storage: %w: PARConfig.NewSession returned no session", ErrConfig)
	}
	s := &PARStorage{store: cfg.Store, clients: cfg.Clients, newSession: cfg.NewSession, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// The names of the stored params. client_id is the store's binding: it
// must be the top-level string client_id. format versions the layout, so
// that nodes of two versions sharing a table refuse what they cannot read
// rather than misread it.
const (
	paramFormat              = "format"
	paramClientID            = "client_id"
	paramRequestID           = "request_id"
	paramRequestedAt         = "requested_at"
	paramForm                = "form"
	paramScopes              = "scopes"
	paramGrantedScopes       = "granted_scopes"
	paramAudience            = "audience"
	paramGrantedAudience     = "granted_audience"
	paramRedirectURI         = "redirect_uri"
	paramState               = "state"
	paramResponseTypes       = "response_types"
	paramResponseMode        = "response_mode"
	paramDefaultResponseMode = "default_response_mode"
	paramSession             = "session"

	formatVersion = 1
)

// CreatePARSession implements fosite.PARStorage: it stores request under
// requestURI until the expiry fosite's PAR handler set on its session for
// fosite.PushedAuthorizeRequestContext. The stored params hold the client
// id, the form (without client_secret, client_assertion and
// client_assertion_type, which authenticated the push and are never
// stored), scopes and audiences requested and granted, redirect URI,
// state, response types and modes, request id and time, and the session
// as JSON. A request without a client, without a session, with a session
// of another type than NewSession's, or without a PAR expiry is
// ErrInvalidRequest; an expiry past, or beyond the store's MaxPARTTL, is
// the store's validation error. Either way nothing is stored.
func (s *PARStorage) CreatePARSession(ctx context.Context, requestURI string, request fosite.AuthorizeRequester) error {
	if s == nil || s.store == nil {
		return fmt.Errorf("gormfosite: create PAR session: %w: a PARStorage must come from NewPARStorage", ErrConfig)
	}
	params, expiresAt, err := s.encode(request)
	if err != nil {
		return fmt.Errorf("gormfosite: create PAR session: %w", err)
	}
	if err := s.store.Put(ctx, requestURI, params, expiresAt.Sub(s.now())); err != nil {
		return fmt.Errorf("gormfosite: create PAR session: %w", err)
	}
	return nil
}

// GetPARSession implements fosite.PARStorage, and consumes the request:
// one statement finds the live request and deletes it, so of any number of
// concurrent resolutions on any number of nodes exactly one gets it. When
// ctx names the presenting client (PresentingClient: WithPresentingClient,
// or the request fosite's NewAuthorizeRequest put in ctx), the statement
// matches only a request that client pushed (TakeForClient), so another
// client's attempt finds nothing and leaves the request to its owner;
// otherwise it is a plain Take.
//
// A request_uri that is unknown, expired, consumed, or pushed by another
// client is fosite.ErrNotFound (fosite answers invalid_request_uri). The
// client is looked up again through PARConfig.Clients, so a client
// deleted or changed since the push is seen as it is now.
func (s *PARStorage) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	if s == nil || s.store == nil {
		return nil, fmt.Errorf("gormfosite: get PAR session: %w: a PARStorage must come from NewPARStorage", ErrConfig)
	}
	params, found, err := s.take(ctx, requestURI)
	if err != nil {
		return nil, fmt.Errorf("gormfosite: get PAR session: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("gormfosite: get PAR session: %w", fosite.ErrNotFound)
	}
	ar, err := s.decode(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("gormfosite: get PAR session: %w", err)
	}
	return ar, nil
}

// DeletePARSession implements fosite.PARStorage. fosite calls it right
// after a successful GetPARSession, which has already consumed the
// request, so here a request_uri that is not stored is not an error (it
// would make fosite fail the request it has just resolved). A request
// still stored is removed, under the same client binding as
// GetPARSession's.
func (s *PARStorage) DeletePARSession(ctx context.Context, requestURI string) error {
	if s == nil || s.store == nil {
		return fmt.Errorf("gormfosite: delete PAR session: %w: a PARStorage must come from NewPARStorage", ErrConfig)
	}
	if _, _, err := s.take(ctx, requestURI); err != nil {
		return fmt.Errorf("gormfosite: delete PAR session: %w", err)
	}
	return nil
}

// take consumes requestURI's request, for the presenting client if ctx
// names one.
func (s *PARStorage) take(ctx context.Context, requestURI string) (map[string]any, bool, error) {
	if clientID, ok := PresentingClient(ctx); ok {
		return s.store.TakeForClient(ctx, requestURI, clientID)
	}
	return s.store.Take(ctx, requestURI)
}

// encode turns request into the params to store, and returns the expiry
// fosite set for the PAR context.
func (s *PARStorage) encode(request fosite.AuthorizeRequester) (map[string]any, time.Time, error) {
	bad := func(why string) (map[string]any, time.Time, error) {
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrInvalidRequest, why)
	}
	if request == nil || isNilPointer(request) {
		return bad("no request")
	}
	client := request.GetClient()
	if client == nil || isNilPointer(client) || client.GetID() == "" {
		return bad("the request has no client")
	}
	session := request.GetSession()
	if session == nil || isNilPointer(session) {
		return bad("the request has no session: pass one to NewPushedAuthorizeResponse")
	}
	if want := reflect.TypeOf(s.newSession()); reflect.TypeOf(session) != want {
		return bad(fmt.Sprintf("the session is a %T, and PARConfig.NewSession makes a %v", session, want))
	}
	expiresAt := session.GetExpiresAt(fosite.PushedAuthorizeRequestContext)
	if expiresAt.IsZero() {
		return bad("the session has no expiry for the PAR context (fosite's PAR handler sets it)")
	}
	sessionJSON, err := json.Marshal(session)
	if err != nil {
		return bad(fmt.Sprintf("the session does not encode as JSON: %v", err))
	}
	form := map[string][]string{}
	for k, vs := range request.GetRequestForm() {
		form[k] = append([]string(nil), vs...)
	}
	for _, k := range changesets.ClientSecretParams {
		delete(form, k)
	}
	params := map[string]any{
		paramFormat:              formatVersion,
		paramClientID:            client.GetID(),
		paramRequestID:           request.GetID(),
		paramRequestedAt:         request.GetRequestedAt().UTC().Format(time.RFC3339Nano),
		paramForm:                form,
		paramScopes:              []string(request.GetRequestedScopes()),
		paramGrantedScopes:       []string(request.GetGrantedScopes()),
		paramAudience:            []string(request.GetRequestedAudience()),
		paramGrantedAudience:     []string(request.GetGrantedAudience()),
		paramState:               request.GetState(),
		paramResponseTypes:       []string(request.GetResponseTypes()),
		paramResponseMode:        string(request.GetResponseMode()),
		paramDefaultResponseMode: string(request.GetDefaultResponseMode()),
		paramSession:             json.RawMessage(sessionJSON),
	}
	if u := request.GetRedirectURI(); u != nil {
		params[paramRedirectURI] = u.String()
	}
	return params, expiresAt, nil
}

// decode rebuilds the authorize request from stored params.
func (s *PARStorage) decode(ctx context.Context, params map[string]any) (fosite.AuthorizeRequester, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	var p struct {
		Format              int                 `json:"format"`
		ClientID            string              `json:"client_id"`
		RequestID           string              `json:"request_id"`
		RequestedAt         time.Time           `json:"requested_at"`
		Form                map[string][]string `json:"form"`
		Scopes              []string            `json:"scopes"`
		GrantedScopes       []string            `json:"granted_scopes"`
		Audience            []string            `json:"audience"`
		GrantedAudience     []string            `json:"granted_audience"`
		RedirectURI         *string             `json:"redirect_uri"`
		State               string              `json:"state"`
		ResponseTypes       []string            `json:"response_types"`
		ResponseMode        string              `json:"response_mode"`
		DefaultResponseMode string              `json:"default_response_mode"`
		Session             json.RawMessage     `json:"session"`
	}
	// The params are what encode wrote, read back as JSON values: one
	// round trip through encoding/json types them again.
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, corrupt("%v", err)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, corrupt("%v", err)
	}
	if p.Format != formatVersion {
		return nil, corrupt("format %d, want %d", p.Format, formatVersion)
	}
	session := s.newSession()
	if err := json.Unmarshal(p.Session, session); err != nil {
		return nil, corrupt("session: %v", err)
	}
	client, err := s.clients.GetClient(ctx, p.ClientID)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	ar := fosite.NewAuthorizeRequest()
	ar.ID = p.RequestID
	ar.RequestedAt = p.RequestedAt
	ar.Client = client
	ar.Session = session
	ar.State = p.State
	if p.ResponseTypes != nil {
		ar.ResponseTypes = p.ResponseTypes
	}
	ar.ResponseMode = fosite.ResponseModeType(p.ResponseMode)
	ar.DefaultResponseMode = fosite.ResponseModeType(p.DefaultResponseMode)
	ar.RequestedScope = p.Scopes
	ar.GrantedScope = p.GrantedScopes
	ar.RequestedAudience = p.Audience
	ar.GrantedAudience = p.GrantedAudience
	for k, vs := range p.Form {
		ar.Form[k] = vs
	}
	if p.RedirectURI != nil {
		if ar.RedirectURI, err = url.Parse(*p.RedirectURI); err != nil {
			return nil, corrupt("redirect_uri: %v", err)
		}
	}
	return ar, nil
}

// isNilPointer reports whether v holds a nil pointer, which an interface
// comparison with nil misses.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
