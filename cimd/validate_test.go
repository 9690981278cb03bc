package cimd_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/attesto/gormstore/cimd"
)

func TestValidateClientID(t *testing.T) {
	t.Parallel()
	good := []string{
		"https://app.example.com/client.json",
		"https://app.example.com/",
		"https://app.example.com:8443/oauth/client",
		"https://app.example.com:1/c",
		"https://app.example.com:65535/c",
		"https://app.example.com/client?version=2", // SHOULD NOT, not MUST NOT
		"https://app.example.com/client?a=1&b=/x?y:z@w",
		"https://127.0.0.1:8443/c", // refused by the transport, not here
		"https://1.2.3.4/c",
		"https://[::1]:8443/c",
		"https://[2001:db8::1]/c",
		"https://[::ffff:127.0.0.1]/c",
		"https://xn--bcher-kva.example/c",
		"https://a-b.example/c",
		"https://1e100.example/c",
		"https://app.example.com/.well-known/client",
		"https://app.example.com/a/.../b",
		"https://app.example.com/..c/d..",
		"https://app.example.com/~user/client.json",
		"https://app.example.com/a%2Fb%20c%C3%A9",
		"https://app.example.com/!$&'()*+,;=:@-._~",
		"https://app.example.com//c",
		"https://app.example.com/%252e%252e/c", // an encoded "%2e%2e", not ".."
		"https://app.example.com/" + strings.Repeat("a", 2048-len("https://app.example.com/")),
	}
	for _, id := range good {
		if err := cimd.ValidateClientID(id); err != nil {
			t.Errorf("ValidateClientID(%q) = %v, want nil", id, err)
		}
	}
	bad := []string{
		"",
		"http://app.example.com/client.json",
		"HTTPS://app.example.com/client.json",
		"Https://app.example.com/client.json",
		"ftp://app.example.com/client.json",
		"app.example.com/client.json",
		"https:app.example.com/client.json",
		"https://app.example.com/client.json#frag",
		"https://app.example.com/client.json#",
		"https://user@app.example.com/c",
		"https://user:pass@app.example.com/c",
		"https://@app.example.com/c",
		"https:///client.json",
		"https://:443/c",
		"https://app.example.com/./client.json",
		"https://app.example.com/../client.json",
		"https://app.example.com/a/..",
		"https://app.example.com/a/.",
		"https://app.example.com/a/./?q=1",
		"https://app.example.com/%2e/c",
		"https://app.example.com/%2E%2e/c",
		"https://app.example.com/.%2E/c",
		"https://app.example.com/client json",
		"https://app.example.com/client\tjson",
		"https://app.example.com/client\x00",
		"https://app.example.com/client\x7f",
		"https://app.example.com/clïent",
		"https://app.example.com/%zz",
		"https://app.example.com/%4",
		"https://app.example.com/%",
		"https://app.example.com/" + strings.Repeat("a", 2049-len("https://app.example.com/")),
		// Characters that are not valid in a URI; a browser reads
		// https://h/a\..\b as https://h/b.
		`https://app.example.com/a\..\b`,
		"https://app.example.com/a<b",
		"https://app.example.com/a>b",
		`https://app.example.com/a"b`,
		"https://app.example.com/a{b",
		"https://app.example.com/a}b",
		"https://app.example.com/a|b",
		"https://app.example.com/a^b",
		"https://app.example.com/a`b",
		"https://app.example.com/a[b",
		"https://app.example.com/a?b]",
		// Hosts that are not DNS names or addresses in their one form.
		"https://2130706433/c",
		"https://0177.0.0.1/c",
		"https://0x7f.1/c",
		"https://0x7f000001/c",
		"https://127.1/c",
		"https://127.0.1/c",
		"https://1.2.3.4.5/c",
		"https://256.1.1.1/c",
		"https://example.123/c",
		"https://example.0x1f/c",
		"https://a_b.example/c",
		"https://-a.example/c",
		"https://a-.example/c",
		"https://a..example/c",
		"https://.a.example/c",
		"https://%61.example/c",
		"https://a.example../c",
		"https://a!.example/c",
		"https://" + strings.Repeat("a", 64) + ".example/c",
		"https://[::1/c",
		"https://[1.2.3.4]/c",
		"https://[fe80::1%25eth0]/c",
		"https://[v1.x]/c",
		"https://[::1]x/c",
		// Ports that are not a port.
		"https://app.example.com:0/c",
		"https://app.example.com:65536/c",
		"https://app.example.com:123456/c",
		"https://app.example.com:x/c",
		"https://app.example.com:+1/c",
		"https://app.example.com:1:2/c",
	}
	for _, id := range bad {
		err := cimd.ValidateClientID(id)
		if !errors.Is(err, cimd.ErrInvalidClientID) {
			t.Errorf("ValidateClientID(%q) = %v, want ErrInvalidClientID", id, err)
		} else if !strings.HasPrefix(err.Error(), "cimd: validate client_id: invalid client_id URL: ") {
			t.Errorf("ValidateClientID(%q) = %q, want the operation and the sentinel first", id, err)
		}
	}
}

// A URL that is valid but not in RFC 3986 section 6.2.2 normal form is
// refused with a message naming the normal form, so that one client has
// one spelling.
func TestValidateClientIDNormalForm(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, id, normal string }{
		{"upper-case host", "https://APP.Example.com/c", "https://app.example.com/c"},
		{"upper-case IPv6", "https://[::FFFF:7F00:1]/c", "https://[::ffff:127.0.0.1]/c"},
		{"IPv6 not in RFC 5952 form", "https://[0:0:0:0:0:0:0:1]/c", "https://[::1]/c"},
		{"IPv6 with leading zeros", "https://[2001:0db8::0001]/c", "https://[2001:db8::1]/c"},
		{"default port", "https://app.example.com:443/c", "https://app.example.com/c"},
		{"empty port", "https://app.example.com:/c", "https://app.example.com/c"},
		{"leading-zero port", "https://app.example.com:0443/c", "https://app.example.com/c"},
		{"leading-zero other port", "https://app.example.com:08443/c", "https://app.example.com:8443/c"},
		{"IPv6 and default port", "https://[::1]:443/c", "https://[::1]/c"},
		{"trailing dot", "https://app.example.com./c", "https://app.example.com/c"},
		{"trailing dot and port", "https://app.example.com.:8443/c", "https://app.example.com:8443/c"},
		{"encoded unreserved letter", "https://app.example.com/%63lient", "https://app.example.com/client"},
		{"encoded tilde", "https://app.example.com/%7Euser", "https://app.example.com/~user"},
		{"encoded digit, hyphen, underscore", "https://app.example.com/%31%2D%5F", "https://app.example.com/1-_"},
		{"encoded unreserved in the query", "https://app.example.com/c?a=%62", "https://app.example.com/c?a=b"},
		{"lower-case hex", "https://app.example.com/a%2fb", "https://app.example.com/a%2Fb"},
		{"mixed-case hex", "https://app.example.com/%c3%A9", "https://app.example.com/%C3%A9"},
		{"lower-case hex in the query", "https://app.example.com/c?q=%3d", "https://app.example.com/c?q=%3D"},
		{"empty query", "https://app.example.com/c?", "https://app.example.com/c"},
		{"no path", "https://app.example.com", "https://app.example.com/"},
		{"no path, a query", "https://app.example.com?x=1", "https://app.example.com/?x=1"},
		{"no path, a port", "https://app.example.com:8443", "https://app.example.com:8443/"},
		{"several at once", "https://A.example.:0443/%7e?", "https://a.example/~"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := cimd.ValidateClientID(c.id)
			want := fmt.Sprintf("cimd: validate client_id: invalid client_id URL: must be in normal form (RFC 3986 section 6.2.2): %q", c.normal)
			if !errors.Is(err, cimd.ErrInvalidClientID) || err.Error() != want {
				t.Fatalf("ValidateClientID(%q) = %v, want %s", c.id, err, want)
			}
			if err := cimd.ValidateClientID(c.normal); err != nil {
				t.Errorf("the normal form %q is refused: %v", c.normal, err)
			}
		})
	}
}

func TestValidateDocument(t *testing.T) {
	t.Parallel()
	const id = "https://app.example.com/client.json"
	with := func(kv ...any) map[string]any {
		doc := map[string]any{"client_id": id}
		for i := 0; i < len(kv); i += 2 {
			doc[kv[i].(string)] = kv[i+1]
		}
		return doc
	}
	cases := []struct {
		name string
		doc  map[string]any
		ok   bool
	}{
		{"minimal", with(), true},
		{"public client", with("token_endpoint_auth_method", "none", "redirect_uris", []any{"https://app.example.com/cb"}), true},
		{"private_key_jwt", with("token_endpoint_auth_method", "private_key_jwt", "jwks_uri", "https://app.example.com/jwks.json"), true},
		{"tls_client_auth", with("token_endpoint_auth_method", "tls_client_auth"), true},
		{"extra properties", with("x-custom", map[string]any{"nested": []any{1.5, true, nil}}), true},

		{"nil", nil, false},
		{"empty object", map[string]any{}, false},
		{"client_id missing", map[string]any{"client_name": "x"}, false},
		{"client_id a number", map[string]any{"client_id": 1}, false},
		{"client_id null", map[string]any{"client_id": nil}, false},
		{"client_id another URL", map[string]any{"client_id": "https://evil.example/client.json"}, false},
		{"client_id with a trailing slash", map[string]any{"client_id": id + "/"}, false},
		// Simple string comparison: URI-equivalent spellings are different.
		{"client_id with an upper-case host", map[string]any{"client_id": "https://APP.example.com/client.json"}, false},
		{"client_id with the default port", map[string]any{"client_id": "https://app.example.com:443/client.json"}, false},
		{"client_id percent-encoded", map[string]any{"client_id": "https://app.example.com/%63lient.json"}, false},
		{"client_secret", with("client_secret", "s3cret"), false},
		{"client_secret null", with("client_secret", nil), false},
		{"client_secret empty", with("client_secret", ""), false},
		{"client_secret_expires_at", with("client_secret_expires_at", 0), false},
		{"client_secret_basic", with("token_endpoint_auth_method", "client_secret_basic"), false},
		{"client_secret_post", with("token_endpoint_auth_method", "client_secret_post"), false},
		{"client_secret_jwt", with("token_endpoint_auth_method", "client_secret_jwt"), false},
		{"another client_secret_ method", with("token_endpoint_auth_method", "client_secret_whatever"), false},
		{"auth method not a string", with("token_endpoint_auth_method", []any{"none"}), false},
		{"auth method null", with("token_endpoint_auth_method", nil), false},
	}
	for _, c := range cases {
		err := cimd.ValidateDocument(id, c.doc)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: ValidateDocument = %v, want nil", c.name, err)
		case !c.ok && !errors.Is(err, cimd.ErrInvalidDocument):
			t.Errorf("%s: ValidateDocument = %v, want ErrInvalidDocument", c.name, err)
		}
	}
}
