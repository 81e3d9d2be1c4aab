package instance

import (
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/types"
)

// FuzzParseRecipient checks the `to` and `chat` parsing: an accepted value
// has one canonical JID, parsing that canonical form again gives the same
// JID, and +E.164 input maps to the phone's user JID.
func FuzzParseRecipient(f *testing.F) {
	for _, s := range []string{
		"+4915123456789", "4915123456789@s.whatsapp.net", "4915123456789:3@s.whatsapp.net",
		"4915123456789.0:1@s.whatsapp.net", "120363025246125486@g.us", "123456789@lid",
		"123456789:2@lid", "+0151", "+1234567890123456", "status@broadcast", "@s.whatsapp.net",
		"4915123456789", " +4915123456789 ", "a@b@c", "+", "", "123@newsletter", "1@g.us:2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = strings.TrimSpace(s) // as Send and ChatJID call it
		jid, err := parseRecipient(s)
		if err != nil {
			if jid != types.EmptyJID {
				t.Fatalf("parseRecipient(%q) = %v with error %v", s, jid, err)
			}
			if ValidPhone(s) {
				t.Fatalf("ValidPhone(%q) but parseRecipient refuses it: %v", s, err)
			}
			return
		}
		canon := jid.String()
		if jid.Device != 0 || jid.RawAgent != 0 || jid.User == "" {
			t.Fatalf("parseRecipient(%q) = %q: not a plain chat JID", s, canon)
		}
		switch jid.Server {
		case types.DefaultUserServer:
			if !ValidPhone("+" + jid.User) {
				t.Fatalf("parseRecipient(%q) = %q: user is not a phone number", s, canon)
			}
		case types.HiddenUserServer, types.GroupServer:
		default:
			t.Fatalf("parseRecipient(%q) = %q: server %q is not supported", s, canon, jid.Server)
		}
		if strings.HasPrefix(s, "+") && canon != s[1:]+"@"+types.DefaultUserServer {
			t.Fatalf("parseRecipient(%q) = %q, want the phone's user JID", s, canon)
		}
		again, err := parseRecipient(canon)
		if err != nil || again != jid {
			t.Fatalf("canonical %q (from %q) parses again as %v, %v", canon, s, again, err)
		}
		if c, err := ChatJID(s); err != nil || c != canon {
			t.Fatalf("ChatJID(%q) = %q, %v; want %q", s, c, err, canon)
		}
	})
}
