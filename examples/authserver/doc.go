// Authserver is a small OAuth 2 authorization server on the gormstore
// stores, written to be copied: a PAR endpoint (RFC 9126) and an
// authorization endpoint whose state lives in PostgreSQL, MariaDB/MySQL or
// SQLite, so that any number of nodes can serve it.
//
// Usage:
//
//	go run ./examples/authserver -dsn DSN [-addr 127.0.0.1:8080]
//
// The DSN (-dsn, or $DATABASE_URL) picks the database: a postgres:// URL,
// a go-sql-driver DSN such as user:password@tcp(127.0.0.1:3306)/app, or a
// SQLite file path (or file: URI); other DSN forms are refused, not taken
// for a file name. The tables are created at start-up
// (gormstore.AutoMigrate); SIGINT or SIGTERM stops the server gracefully.
//
// Endpoints:
//
//	POST /par                the client pushes its authorization request;
//	                         201 {"request_uri", "expires_in"}
//	GET  /authorize          ?client_id&request_uri: the consent page
//	                         (the pushed request is read, not consumed)
//	POST /authorize/consent  client_id, request_uri, decision=approve|deny:
//	                         consumes the request once and redirects to its
//	                         redirect_uri with code and state (or
//	                         error=access_denied)
//
// Three things are stubs, each marked STUB where it stands:
// authenticateClient (client authentication), currentUser (the user's
// login) and issueCode (authorization codes). A client_id that is not an
// https URL is a demo client, which may only redirect to
// https://client.example/..., a reserved name, so an unedited copy is no
// open redirect. A client_id that is an https URL is a Client ID Metadata
// Document client: its document is
// resolved through the cimd resolver, whose default transport refuses
// loopback and private addresses. -insecure-allow-loopback-cimd (with
// -insecure-cimd-ca for a development CA) lifts that for documents served
// on this machine; never use it in production.
//
// Errors are OAuth error responses, JSON {"error", "error_description"}
// with Cache-Control: no-store; the description is fixed text (or the
// cimd resolver's client-safe text), never an internal error, which is
// logged instead. At POST /par (RFC 9126 section 2.3, RFC 6749 section
// 5.2):
//
//	body over 32 KiB                            413 invalid_request
//	form unreadable                             400 invalid_request
//	a parameter repeated (repo.ParamsFromForm)  400 invalid_request
//	client_id or redirect_uri missing,
//	redirect_uri not absolute or with fragment,
//	request_uri pushed                          400 invalid_request
//	response_type other than code               400 unsupported_response_type
//	client_secret, client_assertion or
//	Authorization header (cannot be checked)    401 invalid_client
//	CIMD client_id not a valid URL              400 invalid_request (cimd.OAuthError)
//	CIMD document unfetchable or invalid,
//	wrong member types (ParseClientMetadata)    401 invalid_client (cimd.OAuthError)
//	CIMD resolver busy or out of time           503 temporarily_unavailable
//	CIMD cache failure                          500 server_error
//	redirect_uri not in the document's
//	redirect_uris                               400 invalid_request
//	Put: changesets.ErrInvalid                  400 invalid_request
//	Put: repo.ErrDuplicate (a request_uri
//	collision: ours, not the client's)          500 server_error
//	Put: any other error (database)             500 server_error
//
// At GET /authorize and POST /authorize/consent, shown to the user and
// never redirected (RFC 6749 section 4.1.2.1: the request, and so its
// redirect_uri, is not known):
//
//	a parameter repeated, client_id or
//	request_uri missing, decision not
//	approve or deny                             400 invalid_request
//	consent body over 32 KiB                    413 invalid_request
//	request_uri unknown, expired, used, or
//	pushed by another client (found false)      400 invalid_request_uri
//	FetchForClient or TakeForClient error       500 server_error
//	consent posted cross-origin                 403 invalid_request
package main
