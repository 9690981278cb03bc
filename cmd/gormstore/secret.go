package main

import (
	"cmp"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// masked replaces a password wherever the command shows a DSN.
const masked = "xxxxx"

// secretsIn returns every substring of raw that is, or may be, a
// password, in each reading a driver or an operator could give raw: a
// URL's user information as net/url reads it (up to the first '/', '?' or
// '#'), as written with an unescaped '/', '?', '#' or '@' in the password
// (up to the last '@'), and as go-sql-driver/mysql reads it (up to the last
// '@' before the last '/'); a password-like key of a URL query, its key
// percent-decoded as pgx decodes it; a password-like keyword of a
// keyword/value DSN, quoted or not. Each comes as written and decoded. It
// errs on the side of masking too much: a malformed DSN is where a driver
// can misplace the password.
func secretsIn(raw string) []string {
	var s secretSet
	rest, isURL := raw, false
	if i := strings.Index(raw, "://"); i >= 0 {
		rest, isURL = raw[i+len("://"):], true
	}
	if isURL {
		authority := rest
		if end := strings.IndexAny(rest, "/?#"); end >= 0 {
			authority = rest[:end]
		}
		s.userinfo(authority)
	}
	s.userinfo(rest)
	if slash := strings.LastIndex(rest, "/"); slash >= 0 {
		s.userinfo(rest[:slash])
	}
	s.query(raw)
	s.keywords(raw)
	return s.list
}

// secretSet collects the candidates, each once.
type secretSet struct{ list []string }

func (s *secretSet) add(v string) {
	for _, c := range []string{v, unescape(v)} {
		if c != "" && !slices.Contains(s.list, c) {
			s.list = append(s.list, c)
		}
	}
}

// unescape is v percent-decoded, as a path or as a query value, or v as it
// is when it does not decode.
func unescape(v string) string {
	if d, err := url.QueryUnescape(v); err == nil {
		return d
	}
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

// userinfo adds the password of s read as "user:password@rest", up to
// the last '@'. A password with an unescaped '@', '/', '?', '#' or ':' is
// also added piece by piece: a driver that splits it elsewhere quotes a
// piece as a host, a port or a database ("lookup s3cret@db: no such
// host").
func (s *secretSet) userinfo(text string) {
	at := strings.LastIndex(text, "@")
	if at < 0 {
		return
	}
	_, pw, ok := strings.Cut(text[:at], ":")
	if !ok {
		return
	}
	s.add(pw)
	for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune("@/?#:", r) }) {
		if len(piece) >= minPiece && piece != pw {
			s.add(piece)
		}
	}
}

// minPiece is the shortest piece of a password userinfo masks alone: a
// shorter one would mask letters all over the message.
const minPiece = 3

// query adds the values of password-like keys after each '?' of raw.
func (s *secretSet) query(raw string) {
	for q := raw; ; {
		i := strings.Index(q, "?")
		if i < 0 {
			return
		}
		q = q[i+1:]
		for part := range strings.SplitSeq(q, "&") {
			k, v, ok := strings.Cut(part, "=")
			if !ok || !isPasswordKey(unescape(k)) {
				continue
			}
			// The value ends at the fragment, if any, and a value
			// given as key=value within a keyword/value DSN at a space.
			s.add(v)
			if end := strings.IndexAny(v, "# \t"); end >= 0 {
				s.add(v[:end])
			}
		}
	}
}

// isPasswordKey reports whether a DSN parameter or keyword named k holds
// a password: password and sslpassword, as other programs spell them
// (passwd, pwd, secret), and misspellings of password, which a driver
// may pass on to the server as they are.
func isPasswordKey(k string) bool {
	k = strings.ToLower(strings.TrimSpace(k))
	if k == "passfile" {
		return false // a file name
	}
	return strings.Contains(k, "pass") || strings.Contains(k, "pwd") || strings.Contains(k, "secret") ||
		editDistance(k, "password") <= 2
}

// keywordValue finds each key= of a keyword/value DSN (or of a flag's
// value, --dsn=host=...), and the start of its value.
var keywordValue = regexp.MustCompile(`(?:^|[\s=?&;])([A-Za-z_][A-Za-z0-9_]*)\s*=\s*`)

// keywords adds the values of raw's password keywords: a quoted value
// up to its unescaped closing quote (or the end, unterminated), else up
// to the next space, backslash escapes as libpq reads them.
func (s *secretSet) keywords(raw string) {
	for _, m := range keywordValue.FindAllStringSubmatchIndex(raw, -1) {
		if !isPasswordKey(raw[m[2]:m[3]]) || m[2] > 0 && strings.ContainsRune("?&", rune(raw[m[2]-1])) {
			// A URL query's key is query's.
			continue
		}
		v := raw[m[1]:]
		if strings.HasPrefix(v, "'") {
			end := 1
			for ; end < len(v) && v[end] != '\''; end++ {
				if v[end] == '\\' {
					end++
				}
			}
			quoted := v[1:min(end, len(v))]
			s.add(quoted)
			s.add(unbackslash(quoted))
			continue
		}
		end := 0
		for ; end < len(v) && !strings.ContainsRune(" \t\n\r\v\f", rune(v[end])); end++ {
			if v[end] == '\\' {
				end++
			}
		}
		v = v[:min(end, len(v))]
		s.add(v)
		s.add(unbackslash(v))
		if amp := strings.IndexAny(v, "&#"); amp >= 0 {
			s.add(v[:amp]) // a URL query's value
		}
	}
}

// malformedSecrets is secretsIn for a DSN its driver could not parse:
// where a quote or an escape went wrong, a password's end is anyone's
// guess, so all that follows a password keyword is masked, whole and
// word by word (a driver's error may quote a word of it).
func malformedSecrets(raw string) []string {
	s := secretSet{list: secretsIn(raw)}
	for _, m := range keywordValue.FindAllStringSubmatchIndex(raw, -1) {
		if !isPasswordKey(raw[m[2]:m[3]]) {
			continue
		}
		rest := raw[m[1]:]
		s.add(rest)
		for _, word := range strings.FieldsFunc(rest, func(r rune) bool { return r == '\'' || r == '"' || unicode.IsSpace(r) }) {
			s.add(word)
		}
	}
	return s.list
}

// unbackslash drops libpq's escaping backslashes.
func unbackslash(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' {
			i++
			if i == len(v) {
				break
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// mask replaces each of secrets in text, in one pass from the left, the
// longest first where several start at one place: what it wrote is not
// read again, so that a secret within "xxxxx" cannot grow it.
func mask(text string, secrets []string) string {
	sorted := slices.SortedFunc(slices.Values(secrets), func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	sorted = slices.DeleteFunc(sorted, func(s string) bool { return s == "" })
	if len(sorted) == 0 {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		n := 0
		for _, s := range sorted {
			if strings.HasPrefix(text[i:], s) {
				n = len(s)
				break
			}
		}
		if n == 0 {
			b.WriteByte(text[i])
			i++
			continue
		}
		b.WriteString(masked)
		i += n
	}
	return b.String()
}

// maskDSN is raw with its passwords masked, for messages.
func maskDSN(raw string) string { return mask(raw, secretsIn(raw)) }

// minWriterSecret is the shortest password the output filter masks: the
// command masks every DSN it shows, whatever its password, and the
// filter is the second line, for what a driver might echo. Masking a
// password of a character or two in all output would garble numbers and
// names in the reports.
const minWriterSecret = 4

// maskingWriter writes to w with secrets masked. Each Write is masked on
// its own: the command writes every message in one call.
type maskingWriter struct {
	w       io.Writer
	secrets []string
}

// newMaskingWriter returns w masking those of secrets that are at least
// minWriterSecret long, or w itself when there are none.
func newMaskingWriter(w io.Writer, secrets []string) io.Writer {
	var long []string
	for _, s := range secrets {
		if len(s) >= minWriterSecret {
			long = append(long, s)
		}
	}
	if len(long) == 0 {
		return w
	}
	return &maskingWriter{w: w, secrets: long}
}

func (m *maskingWriter) Write(p []byte) (int, error) {
	out := mask(string(p), m.secrets)
	if _, err := io.WriteString(m.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}
