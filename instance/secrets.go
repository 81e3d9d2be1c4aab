package instance

import (
	"net/url"
	"strings"
)

// Mask stands in for a secret in every response and log line: proxy and
// webhook URL credentials, and sensitive webhook header values. Sending it
// back unchanged (GET → edit → PATCH) keeps the stored secret.
const Mask = "xxxxx"

// MaskURL hides the credentials of a URL (proxy or webhook) for responses
// and logs: the password, or a lone user name (often a token), becomes Mask.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Mask)
	} else {
		u.User = url.User(Mask)
	}
	return u.String()
}

// sensitiveHeaderWords mark a header whose value is a credential.
var sensitiveHeaderWords = []string{"token", "key", "secret", "password", "auth", "signature", "session", "cookie"}

// SensitiveHeader reports whether a header's value is masked in responses:
// Authorization, Proxy-Authorization, Cookie and any name containing one of
// sensitiveHeaderWords, case-insensitively.
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveHeaderWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// maskHeaders returns headers with sensitive values replaced by Mask.
func maskHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if SensitiveHeader(k) && v != "" {
			v = Mask
		}
		out[k] = v
	}
	return out
}

// keepMaskedSecrets puts back the stored secrets where an update sent the
// masked form unchanged: a URL equal to the masked old URL, or a sensitive
// header whose value is Mask while one is stored under the same name.
func keepMaskedSecrets(old, w *Webhook) {
	if w.URL != old.URL && w.URL == MaskURL(old.URL) {
		w.URL = old.URL
	}
	for k, v := range w.Headers {
		if ov, ok := old.Headers[k]; ok && v == Mask && SensitiveHeader(k) {
			w.Headers[k] = ov
		}
	}
}
