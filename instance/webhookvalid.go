package instance

import (
	"net/url"
	"strconv"
	"strings"
)

// webhookURLProblem says what is wrong with a webhook URL, or "".
func webhookURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return "must be an http:// or https:// URL"
	}
	if u.Hostname() == "" {
		return "must have a host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "the port must be between 1 and 65535"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "the port must be between 1 and 65535"
	}
	return ""
}

// webhookHeaderProblem says what is wrong with one custom header, or "".
// Names are RFC 9110 tokens, values hold no control characters but HTAB,
// and the headers meowgate sets itself cannot be overridden.
func webhookHeaderProblem(name, value string) string {
	if !validHeaderName(name) {
		return "must be a header name: letters, digits and !#$%&'*+-.^_`|~"
	}
	ln := strings.ToLower(name)
	switch {
	case strings.HasPrefix(ln, "x-meowgate-"):
		return "is set by meowgate (it would forge the event or signature headers)"
	case ln == "host" || ln == "content-length" || ln == "content-type" || ln == "user-agent" ||
		ln == "transfer-encoding" || ln == "connection":
		return "is set by meowgate and cannot be overridden"
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "the value must not contain control characters"
		}
	}
	return ""
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
