// Package gormfosite plugs gormstore into ory/fosite (v0.49): a
// cluster-shared, single-use, client-bound fosite.PARStorage; a
// fosite.ClientManager that adds OAuth Client ID Metadata Document (CIMD)
// clients to the application's own; and client assertion replay protection
// shared by every node. It is its own Go module, so that the core module
// does not depend on fosite.
//
// # Composing the storage
//
// fosite takes one storage object and finds each capability on it by type
// assertion. Give PARStorage and ClientManager the methods of fosite's
// PARStorage and ClientManager interfaces by embedding them at depth 1,
// and the application's own storage one level deeper, so that Go's
// shallowest-depth rule picks this package's methods:
//
//	type store struct {
//		*gormfosite.PARStorage    // CreatePARSession, GetPARSession, DeletePARSession
//		*gormfosite.ClientManager // GetClient, ClientAssertionJWTValid, SetClientAssertionJWT
//		base                      // everything else
//	}
//	type base struct{ *storage.MemoryStore } // or the application's store
//
// A compile-time assertion, var _ interface{ fosite.Storage;
// fosite.PARStorage } = store{}, catches an ambiguity (two methods of one
// name at one depth), which would otherwise surface only at run time.
//
// # Pushed authorization requests
//
// CreatePARSession stores the request fosite's PAR handler validated
// (client, form, scopes, audiences, redirect URI, state, response types and
// modes, request id and time, and the session as JSON, decoded on the way
// back into PARConfig.NewSession's type) until the expiry the handler set
// for fosite.PushedAuthorizeRequestContext. The client's credentials
// (client_secret, client_assertion) are never stored. The store bounds the
// lifetime: fosite's PushedAuthorizeContextLifespan (default 5 minutes)
// must not exceed repo.Config.MaxPARTTL (default 10 minutes).
//
// GetPARSession consumes the request in one statement (DELETE ...
// RETURNING), so of any number of concurrent /authorize requests on any
// number of nodes exactly one gets it. It matches only a request pushed by
// the presenting client: the one WithPresentingClient put in ctx, or else
// the client_id of the request fosite's NewAuthorizeRequest put in ctx
// (fosite.RequestContextKey). Another client's attempt finds nothing and
// consumes nothing. fosite itself compares the client only after it has
// called GetPARSession and DeletePARSession, so with fosite's
// storage.MemoryStore another client burns the owner's request_uri, and
// two concurrent requests may both get it.
//
// DeletePARSession, which fosite calls right after every successful
// GetPARSession, finds the request already consumed and returns nil; on a
// request still stored it removes it, under the same binding.
//
// # Why not Fetch on entry and Take on completion
//
// repo's stores can resolve a request_uri without consuming it (Fetch), so
// that an authorization endpoint may be re-entered after a login or consent
// page, and consume it (Take) only when the authorization completes. fosite's
// flow does not allow it. NewAuthorizeRequest calls GetPARSession and then
// DeletePARSession on every request carrying a request_uri, in the same
// call, before the application has authenticated the user; and nothing
// calls the PAR storage when the authorization completes
// (NewAuthorizeResponse does not, and the sessions it stores are keyed by
// the code). A storage therefore cannot tell an entry from a completion.
// Making GetPARSession a Fetch and DeletePARSession a no-op would let the
// request_uri be re-entered, but nothing would then consume it: every entry
// would issue another code until it expired, unless the application called
// a take of its own, so single use would rest on application code that
// fosite never calls. This package keeps fosite's shape: the request is
// consumed on the first entry to /authorize, and an application that sends
// the user to log in or consent keeps the resolved fosite.AuthorizeRequester
// across the detour (as hydra keeps it in its login and consent flow)
// rather than re-entering /authorize with the request_uri.
//
// # Client ID Metadata Document clients
//
// ClientManager.GetClient resolves a client_id starting with "https://"
// through cimd.Resolver (one fetch per client per cluster, the document
// cached in the shared table) and returns a *fosite.DefaultOpenIDConnectClient:
//
//   - redirect_uris, grant_types (default authorization_code),
//     response_types (default code) and scope (space-separated) as the
//     document gives them;
//   - token_endpoint_auth_method none, or absent (a document cannot hold a
//     secret): a public client, which fosite holds to PKCE when
//     Config.EnforcePKCEForPublicClients is set;
//   - private_key_jwt, with inline jwks, or with jwks_uri only when
//     ClientConfig.AllowJWKSURI is set (fosite's default JWKS fetcher has no
//     guard against internal addresses: set fosite.Config.JWKSFetcherStrategy
//     to NewJWKSFetcher's); token_endpoint_auth_signing_alg as given
//     (fosite's default: RS256);
//   - any other method, or a malformed member, is invalid_client.
//
// Any other client_id goes to ClientConfig.Clients, the application's own
// manager. ClientConfig.Customize can restrict what a document asks for
// (scopes are the client's own claim, checked only by the user's consent).
//
// Errors reach OAuth clients through fosite, which copies Error() into its
// debug field: every failure of a CIMD client is a *fosite.RFC6749Error
// (whose Error() is only its code) with cimd.OAuthError's description as
// its hint, and the detailed error, addresses and TLS messages included, as
// its cause (errors.Unwrap) for logs. Keep fosite's
// SendDebugMessagesToClients off all the same: fosite puts other storage
// errors into the debug field as they are.
//
// # Client assertion replay
//
// SetClientAssertionJWT records the assertion's jti, prefixed with
// JTIPrefix, in a repo.ReplayStore with one CheckAndRecord: of concurrent
// presentations of one jti on any nodes exactly one is fresh, and every
// other, and any later one until the assertion expires, is
// fosite.ErrJTIKnown. The prefix keeps the jtis of DPoP proofs, which may
// share the table, apart.
//
// # fosite's Config under concurrency
//
// fosite.Config fills in ScopeStrategy, AudienceMatchingStrategy,
// ClientSecretsHasher and JWKSFetcherStrategy on first use, without a lock:
// a server handling requests concurrently should set them up front.
package gormfosite
