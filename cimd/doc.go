// Package cimd resolves OAuth client_id URLs to validated Client ID Metadata Documents through a shared cache.
//
// It holds the pieces around the cache that every authorization server
// otherwise writes by hand:
//
//   - ValidateClientID accepts only client_id URLs the draft allows
//     (section 3), and only in RFC 3986 normal form, so that one client
//     has one spelling: anything keyed on client_id (blocklists, rate
//     limits, consent, Resolver.Delete) cannot be sidestepped by
//     re-spelling it.
//   - ExpiresAt turns the fetched response's caching headers into the cache
//     entry's expires_at: RFC 9111's freshness lifetime minus its corrected
//     initial age, clamped to the server's own bounds, as
//     draft-ietf-oauth-client-id-metadata-document-01 section 4.4 allows.
//   - Resolver reads through the cache: a hit is checked (ValidateDocument
//     and Config.Rules, since any node may have stored it) and served
//     without any fetch; a miss is fetched once per node however many
//     requests want it (single-flight), validated per the draft's sections
//     3 and 4.1, and stored in the shared cache, so other nodes do not
//     fetch it at all. Failures are returned and never cached (section
//     4.4). OAuthError turns a failure into the OAuth error to send.
//   - ParseClientMetadata gives a resolved document's RFC 7591 members typed, wrong JSON types as ErrInvalidDocument.
//
// # Safe by default
//
// The zero Config (with a Cache) is the safe one; each convenience is an
// explicit opt-in:
//
//   - The default fetch refuses to connect to special-use addresses
//     (draft section 6.5): loopback, private, link-local and the rest of
//     the IANA special-purpose registries, IPv4-mapped and other embedded
//     forms included. It checks the address actually dialled, so a name
//     resolving (or rebound) to an internal address is refused too, and it
//     uses no proxy from the environment. Config.AllowLoopback opens
//     loopback only, for development. With Config.Fetch or HTTPFetch of
//     your own client, that client's transport decides (start from
//     NewTransport to keep the guard).
//   - Work per node is bounded: at most MaxConcurrentFetches fetches run
//     at once (default 256), at most MaxFetchesPerHost for one host name
//     (default 16); beyond them Resolve fails at once with ErrBusy. The
//     default transport reads at most DefaultMaxResponseHeaderBytes of
//     headers, the resolver at most MaxDocumentBytes of body (5 KiB), and
//     only a Content-Type of application/json or application/*+json.
//   - A document nested deeper than MaxDocumentDepth is refused without
//     recursing through it.
//   - Dates in Expires and Date are read exactly as RFC 9110 defines
//     HTTP-dates; anything else in Expires means already expired.
//   - Errors name what failed, for logs; OAuthError gives the code and a
//     description fit for the client, free of addresses, statuses and TLS
//     or database messages.
//
// The Cache interface is the three methods of repo.ClientIDMetadataCache
// the resolver calls, so this package links no database driver.
//
// Section numbers in this package are those of draft -01.
package cimd
