// Package cimd resolves OAuth client_id URLs to validated Client ID Metadata Documents through any repo.ClientIDMetadataCache.
//
// It holds the two pieces around the cache that every authorization server
// otherwise writes by hand:
//
//   - ExpiresAt turns the fetched response's caching headers into the cache
//     entry's expires_at: RFC 9111's freshness lifetime minus its corrected
//     initial age, clamped to the server's own bounds, as
//     draft-ietf-oauth-client-id-metadata-document-01 section 4.4 allows.
//   - Resolver reads through the cache: a hit is served without any fetch; a
//     miss is fetched once per node however many requests want it
//     (single-flight), validated per the draft's sections 3 and 4.1, and
//     stored in the shared cache, so other nodes do not fetch it at all.
//     Failures are returned and never cached (section 4.4).
//
// Section numbers in this package are those of draft -01.
package cimd
