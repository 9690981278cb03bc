package gormfosite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/attesto/gormstore/changesets"
	"github.com/attesto/gormstore/cimd"
	"github.com/attesto/gormstore/repo"
)

// ClientConfig configures a ClientManager. Resolver and Replay are
// required.
type ClientConfig struct {
	// Resolver resolves client_ids that are https URLs to their Client ID
	// Metadata Documents: cimd.NewResolver on a
	// repo.NewGormClientIDMetadataCache, shared by every node. Its
	// defaults refuse documents on loopback and internal addresses.
	// Required.
	Resolver *cimd.Resolver
	// Replay records the jti of every client assertion (RFC 7523 section
	// 3) until it expires: repo.NewGormReplayStore for a cluster, so that
	// an assertion used on one node is refused on every other. Required.
	Replay repo.ReplayStore
	// Clients is the application's own manager, asked for every client_id
	// that does not start with "https://". Its ClientAssertionJWTValid and
	// SetClientAssertionJWT are not called: Replay serves every client.
	// Default (nil): there are no other clients, and any other client_id
	// is fosite.ErrNotFound.
	Clients fosite.ClientManager
	// Customize, when set, is called with each client built from a
	// document before it is returned, to restrict or extend it (allowed
	// scopes, audience, request object algorithms). An error refuses the
	// client: return a *fosite.RFC6749Error to choose what the client is
	// told, since fosite may send it as it is. Default: none.
	Customize func(ctx context.Context, doc map[string]any, client *fosite.DefaultOpenIDConnectClient) error
	// AllowJWKSURI accepts private_key_jwt documents that give their keys
	// as a jwks_uri rather than inline jwks. fosite fetches a jwks_uri with
	// its Config.JWKSFetcherStrategy, whose default client has no guard
	// against internal addresses and follows redirects: with it, anyone
	// who can publish a document could make the server GET any URL. Set
	// AllowJWKSURI only once the fosite Config's JWKSFetcherStrategy fetches
	// through a guarded transport (NewJWKSFetcher). Default: false, and a
	// document with a jwks_uri is invalid_client.
	AllowJWKSURI bool
}

// ClientManager is a fosite.ClientManager that adds Client ID Metadata
// Document clients to the application's own: a client_id that starts
// with "https://" is resolved through cimd.Resolver and turned into a
// fosite client; any other goes to the wrapped manager. Client assertion
// jtis are recorded in a repo.ReplayStore. Make one with NewClientManager.
type ClientManager struct {
	resolver     *cimd.Resolver
	replay       repo.ReplayStore
	clients      fosite.ClientManager
	customize    func(context.Context, map[string]any, *fosite.DefaultOpenIDConnectClient) error
	allowJWKSURI bool
}

var _ fosite.ClientManager = (*ClientManager)(nil)

// NewClientManager returns a ClientManager with cfg's settings, or
// ErrConfig if cfg is nil or a required field is missing.
func NewClientManager(cfg *ClientConfig) (*ClientManager, error) {
	switch {
	case cfg == nil:
		return nil, fmt.Errorf("gormfosite: new client manager: %w: no ClientConfig", ErrConfig)
	case cfg.Resolver == nil:
		return nil, fmt.Errorf("gormfosite: new client manager: %w: ClientConfig.Resolver is required", ErrConfig)
	case cfg.Replay == nil:
		return nil, fmt.Errorf("gormfosite: new client manager: %w: ClientConfig.Replay is required", ErrConfig)
	}
	return &ClientManager{resolver: cfg.Resolver, replay: cfg.Replay, clients: cfg.Clients, customize: cfg.Customize, allowJWKSURI: cfg.AllowJWKSURI}, nil
}

// JTIPrefix is put before every client assertion jti in the replay store,
// which DPoP proofs (RFC 9449) may share: the two kinds of token never
// refuse each other.
const JTIPrefix = "client_assertion:"

// GetClient implements fosite.ClientManager. A client_id starting with
// "https://" is resolved through the Resolver: the document becomes a
// *fosite.DefaultOpenIDConnectClient (see the package doc for the
// mapping). Every failure to resolve it, or to use it, is a
// *fosite.RFC6749Error whose code and hint are fit for the client
// (cimd.OAuthError's) and whose cause (errors.Unwrap) keeps the detail
// for logs: its Error() is only the code, so fosite's debug field, which
// it fills from Error(), reveals nothing either.
func (m *ClientManager) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if m == nil || m.resolver == nil {
		return nil, fmt.Errorf("gormfosite: get client: %w: a ClientManager must come from NewClientManager", ErrConfig)
	}
	if !strings.HasPrefix(id, "https://") {
		if m.clients == nil {
			return nil, fosite.ErrNotFound.WithWrap(fmt.Errorf("gormfosite: get client: no client manager for client_ids that are not https URLs"))
		}
		return m.clients.GetClient(ctx, id)
	}
	doc, err := m.resolver.Resolve(ctx, id)
	if err != nil {
		code, description := cimd.OAuthError(err)
		return nil, oauthError(code).WithHint(description).WithWrap(fmt.Errorf("gormfosite: get client: %w", err))
	}
	client, err := clientFromDocument(id, doc, m.allowJWKSURI)
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client metadata document at the client_id URL describes a client this server does not support.").
			WithWrap(fmt.Errorf("gormfosite: get client %q: %w", id, err))
	}
	if m.customize != nil {
		if err := m.customize(ctx, doc, client); err != nil {
			var rfc *fosite.RFC6749Error
			if errors.As(err, &rfc) {
				return nil, err
			}
			return nil, fosite.ErrInvalidClient.WithHint("The client is not allowed on this server.").
				WithWrap(fmt.Errorf("gormfosite: get client %q: customize: %w", id, err))
		}
	}
	return client, nil
}

// oauthError is fosite's error for a cimd.OAuthError code.
func oauthError(code string) *fosite.RFC6749Error {
	switch code {
	case cimd.CodeInvalidRequest:
		return fosite.ErrInvalidRequest
	case cimd.CodeInvalidClient:
		return fosite.ErrInvalidClient
	case cimd.CodeTemporarilyUnavailable:
		return fosite.ErrTemporarilyUnavailable
	}
	return fosite.ErrServerError
}

// ClientAssertionJWTValid implements fosite.ClientManager: fosite.ErrJTIKnown
// if jti is recorded and live. It is fosite's early check only; the
// decision is SetClientAssertionJWT's. A failed lookup is an error (fosite
// then refuses the assertion).
func (m *ClientManager) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	if m == nil || m.replay == nil {
		return fmt.Errorf("gormfosite: client assertion jti valid: %w: a ClientManager must come from NewClientManager", ErrConfig)
	}
	seen, err := m.replay.Seen(ctx, JTIPrefix+jti)
	switch {
	case err != nil:
		return fosite.ErrServerError.WithWrap(fmt.Errorf("gormfosite: client assertion jti valid: %w", err))
	case seen:
		return fosite.ErrJTIKnown.WithHint("Claim 'jti' from 'client_assertion' MUST only be used once.")
	}
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager with one
// CheckAndRecord: of any number of presentations of one jti, on any number
// of nodes, exactly one records it, and every other gets
// fosite.ErrJTIKnown. fosite sends what this returns as it is, so every
// error is a *fosite.RFC6749Error fit for the client, the detail in its
// cause: a jti or expiry the store refuses (overlong, already expired) is
// invalid_client, a database failure server_error.
func (m *ClientManager) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if m == nil || m.replay == nil {
		return fosite.ErrServerError.WithWrap(fmt.Errorf("gormfosite: record client assertion jti: %w: a ClientManager must come from NewClientManager", ErrConfig))
	}
	fresh, err := m.replay.CheckAndRecord(ctx, JTIPrefix+jti, exp)
	var invalid *changesets.Error
	switch {
	case errors.As(err, &invalid):
		return fosite.ErrInvalidClient.WithHint("The 'jti' or 'exp' claim of the 'client_assertion' is not acceptable.").
			WithWrap(fmt.Errorf("gormfosite: record client assertion jti: %w", err))
	case err != nil:
		return fosite.ErrServerError.WithWrap(fmt.Errorf("gormfosite: record client assertion jti: %w", err))
	case !fresh:
		return fosite.ErrJTIKnown.WithHint("Claim 'jti' from 'client_assertion' MUST only be used once.")
	}
	return nil
}

// clientFromDocument turns a validated Client ID Metadata Document into a
// fosite client.
func clientFromDocument(id string, doc map[string]any, allowJWKSURI bool) (*fosite.DefaultOpenIDConnectClient, error) {
	c := &fosite.DefaultOpenIDConnectClient{DefaultClient: &fosite.DefaultClient{ID: id}}
	var err error
	if c.RedirectURIs, err = stringList(doc, "redirect_uris", nil); err != nil {
		return nil, err
	}
	// RFC 7591 section 2's defaults.
	if c.GrantTypes, err = stringList(doc, "grant_types", []string{"authorization_code"}); err != nil {
		return nil, err
	}
	if c.ResponseTypes, err = stringList(doc, "response_types", []string{"code"}); err != nil {
		return nil, err
	}
	scope, err := stringField(doc, "scope")
	if err != nil {
		return nil, err
	}
	c.Scopes = strings.Fields(scope)
	if c.TokenEndpointAuthSigningAlgorithm, err = stringField(doc, "token_endpoint_auth_signing_alg"); err != nil {
		return nil, err
	}
	// A document cannot hold a secret (cimd.ValidateDocument refuses the
	// shared-secret methods), so without a method the client is public,
	// not RFC 7591's client_secret_basic.
	method, err := stringField(doc, "token_endpoint_auth_method")
	if err != nil {
		return nil, err
	}
	switch method {
	case "", "none":
		c.TokenEndpointAuthMethod = "none"
		c.Public = true
	case "private_key_jwt":
		c.TokenEndpointAuthMethod = method
		if err := keysFromDocument(doc, c, allowJWKSURI); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("token_endpoint_auth_method %q is not supported for client metadata documents (none and private_key_jwt are)", method)
	}
	return c, nil
}

// keysFromDocument sets the client's keys from exactly one of jwks and
// jwks_uri (RFC 7591 section 2: both MUST NOT be present).
func keysFromDocument(doc map[string]any, c *fosite.DefaultOpenIDConnectClient, allowJWKSURI bool) error {
	jwks, hasJWKS := doc["jwks"]
	jwksURI, err := stringField(doc, "jwks_uri")
	if err != nil {
		return err
	}
	switch {
	case hasJWKS && jwksURI != "":
		return errors.New("private_key_jwt: jwks and jwks_uri must not both be present (RFC 7591 section 2)")
	case jwksURI != "" && !allowJWKSURI:
		return errors.New("private_key_jwt: jwks_uri is not accepted (ClientConfig.AllowJWKSURI); give the keys inline as jwks")
	case jwksURI != "":
		u, err := url.Parse(jwksURI)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
			return fmt.Errorf("private_key_jwt: jwks_uri %q is not an https URL", jwksURI)
		}
		c.JSONWebKeysURI = jwksURI
		return nil
	case !hasJWKS:
		return errors.New("private_key_jwt needs jwks or jwks_uri")
	}
	raw, err := json.Marshal(jwks)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	set := new(jose.JSONWebKeySet)
	if err := json.Unmarshal(raw, set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	if len(set.Keys) == 0 {
		return errors.New("jwks has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return fmt.Errorf("jwks: key %q is not a public key", k.KeyID)
		}
	}
	c.JSONWebKeys = set
	return nil
}

// stringField returns doc[key] as a string, "" when absent.
func stringField(doc map[string]any, key string) (string, error) {
	v, ok := doc[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is not a string", key)
	}
	return s, nil
}

// stringList returns doc[key] as a list of strings, def when absent.
func stringList(doc map[string]any, key string, def []string) ([]string, error) {
	v, ok := doc[key]
	if !ok || v == nil {
		return def, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an array", key)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s holds a value that is not a string", key)
		}
		out = append(out, s)
	}
	return out, nil
}
