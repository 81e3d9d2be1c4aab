package instance

import (
	"context"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
)

// WhatsApp names a person by phone number (PN, …@s.whatsapp.net) or by
// LID (…@lid), a linked identity that is not the number. meowgate's rule:
// a person is named by both whenever a mapping is known (whatsmeow learns
// them from usync, message attributes, group participant lists and history
// sync, and keeps them in whatsmeow_lid_map), and a chat with a person is
// keyed by the phone JID when it is known, so one person is one chat
// whichever id a message came with. A LID whose number is unknown stays
// a LID chat until the mapping is learned.

// person names jid (a PN or LID user JID), completing it with alt (the
// other id, when the wire carried it) or the stored mapping.
func (m *Manager) person(ctx context.Context, jid, alt types.JID) event.Person {
	jid = jid.ToNonAD()
	alt = alt.ToNonAD()
	var pn, lid string
	switch jid.Server {
	case types.DefaultUserServer:
		pn = jid.User
		if alt.Server == types.HiddenUserServer {
			lid = alt.User
		} else {
			lid = m.store.LIDForPN(ctx, pn)
		}
	case types.HiddenUserServer:
		lid = jid.User
		if alt.Server == types.DefaultUserServer {
			pn = alt.User
		} else {
			pn = m.store.PNForLID(ctx, lid)
		}
	default:
		return event.Person{JID: jid.String()}
	}
	var p event.Person
	if pn != "" {
		p.Phone, p.JID = "+"+pn, types.NewJID(pn, types.DefaultUserServer).String()
	}
	if lid != "" {
		p.LID = types.NewJID(lid, types.HiddenUserServer).String()
	}
	return p
}

// chatKey is the JID a chat is stored under: the phone JID for a LID whose
// number is known, the JID itself otherwise.
func (m *Manager) chatKey(ctx context.Context, jid, alt types.JID) string {
	jid = jid.ToNonAD()
	if jid.Server != types.HiddenUserServer {
		return jid.String()
	}
	if alt.Server == types.DefaultUserServer {
		return alt.ToNonAD().String()
	}
	if pn := m.store.PNForLID(ctx, jid.User); pn != "" {
		return types.NewJID(pn, types.DefaultUserServer).String()
	}
	return jid.String()
}
