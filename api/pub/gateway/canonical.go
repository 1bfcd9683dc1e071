package main

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// A canonical path is the one form of a request path that pub both checks and forwards.
//
// Why: the lifecycle decides on a decoded path, while a job (or a proxy in front of it) decodes and
// normalises the bytes it receives in its own way. If pub checked one form and forwarded another, an
// encoded separator (`latest%2Fpublic/admin`) or a dot-segment (`public/../admin`) would let a caller
// pass the check of an approved public endpoint and reach another path. So pub refuses every segment
// that decoders disagree about and forwards the path re-encoded from exactly the segments it checked.
//
// Refused: an encoded '/' or '\' (%2F, %5C), a raw '\', the dot-segments '.' and '..' (also encoded,
// and with ';' parameters: `..;x`), double encoding (`%252F`), control characters, malformed
// percent-encoding and bytes that are not UTF-8. Empty segments (`a//b`) are dropped; a final '/' is kept.
type canonicalPath struct {
	segments      []string // decoded; none empty, none containing '/'
	trailingSlash bool     // the path ended with '/' (and is not just "/")
}

// pathError says why a request path was refused; the message names the offending part.
type pathError struct{ message string }

func (e *pathError) Error() string { return e.message }

func refusePath(format string, segment string) *pathError {
	return &pathError{strings.ReplaceAll(format, "%s", quoteSegment(segment))}
}

func quoteSegment(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "'" + s + "'"
}

// requestPath is the path of a request as the caller sent it, still percent-encoded.
func requestPath(r *http.Request) string {
	raw := r.RequestURI
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	if !strings.HasPrefix(raw, "/") {
		raw = r.URL.EscapedPath() // an absolute-form request target (http://host/path)
	}
	return raw
}

// canonicalise reads a raw (percent-encoded) path that starts with '/'.
func canonicalise(raw string) (*canonicalPath, *pathError) {
	if !strings.HasPrefix(raw, "/") {
		return nil, &pathError{"the path must start with '/'"}
	}
	if strings.IndexByte(raw, '\\') >= 0 {
		return nil, &pathError{"a '\\' in the path is refused: servers differ on whether it separates segments"}
	}
	parts := strings.Split(raw[1:], "/")
	path := &canonicalPath{segments: make([]string, 0, len(parts))}
	for i, part := range parts {
		if part == "" {
			if i == len(parts)-1 && len(path.segments) > 0 {
				path.trailingSlash = true
			}
			continue
		}
		segment, err := decodeSegment(part)
		if err != nil {
			return nil, err
		}
		path.segments = append(path.segments, segment)
	}
	return path, nil
}

func decodeSegment(raw string) (string, *pathError) {
	if strings.IndexByte(raw, '%') >= 0 {
		for i := 0; i < len(raw); i++ {
			if raw[i] == '%' && (i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2])) {
				return "", refusePath("malformed percent-encoding in the path segment %s: '%' must be followed by two hex digits", raw)
			}
		}
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", refusePath("malformed percent-encoding in the path segment %s", raw)
	}
	switch {
	case strings.ContainsAny(decoded, "/\\"):
		return "", refusePath("an encoded '/' or '\\' (%2F, %5C) in the path segment %s is refused: send separators unencoded", raw)
	case !utf8.ValidString(decoded):
		return "", refusePath("the path segment %s is not UTF-8 once decoded", raw)
	case hasControl(decoded):
		return "", refusePath("a control character in the path segment %s is refused", raw)
	case isDotSegment(decoded):
		return "", refusePath("the dot-segment %s ('.' or '..') is refused: send the path it leads to", raw)
	case hasEncodedOctet(decoded):
		return "", refusePath("double percent-encoding in the path segment %s is refused (%25 followed by two hex digits)", raw)
	}
	return decoded, nil
}

// isDotSegment: '.' and '..', also with ';' parameters, which some servers strip before resolving them.
func isDotSegment(segment string) bool {
	if i := strings.IndexByte(segment, ';'); i >= 0 {
		segment = segment[:i]
	}
	return segment == "." || segment == ".."
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func hasEncodedOctet(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// decoded is the path the lifecycle checks, from segment `from` on, without a leading '/'.
func (p *canonicalPath) decoded(from int) string {
	if from >= len(p.segments) {
		return ""
	}
	path := strings.Join(p.segments[from:], "/")
	if p.trailingSlash {
		path += "/"
	}
	return path
}

// encoded is the same part as it is forwarded: each segment re-encoded the one way escapeSegment does.
func (p *canonicalPath) encoded(from int) string {
	if from >= len(p.segments) {
		return ""
	}
	var b strings.Builder
	for i, segment := range p.segments[from:] {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(escapeSegment(segment))
	}
	if p.trailingSlash {
		b.WriteByte('/')
	}
	return b.String()
}

// String is the whole canonical path, encoded.
func (p *canonicalPath) String() string {
	if len(p.segments) == 0 {
		return "/"
	}
	return "/" + p.encoded(0)
}

// escapeSegment encodes everything but RFC 3986's unreserved characters and the sub-delimiters,
// ':' and '@' that every server reads literally. ';' is encoded too: some servers cut path
// parameters at a raw ';', and the lifecycle checked it as a literal character.
func escapeSegment(segment string) string {
	const hex = "0123456789ABCDEF"
	plain := true
	for i := 0; i < len(segment); i++ {
		if !keptInSegment(segment[i]) {
			plain = false
			break
		}
	}
	if plain {
		return segment
	}
	var b strings.Builder
	b.Grow(len(segment) + 8)
	for i := 0; i < len(segment); i++ {
		c := segment[i]
		if keptInSegment(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func keptInSegment(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,=:@", c) >= 0
}
