package wasim

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waLidMigrationSyncPayload"
	"go.mau.fi/whatsmeow/types"
)

// LID addressing: every account has a LID besides its phone number, and a
// client may address a chat, a device or a prekey fetch by either. The
// server maps both to the same account; the phones key their Signal
// sessions by the linked device's phone-number address only (the sender of
// a message is always the connection's PN device), so sessions never split
// between the two forms on the phone side.

// userByLID returns the account whose LID user part is lid, or nil.
func (s *Server) userByLID(lid string) *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.soc.lids[lid]; u != nil {
		return u
	}
	// Accounts and their LIDs never change once made: a miss only means
	// the index is behind, so it is rebuilt from the accounts.
	if s.soc.lids == nil {
		s.soc.lids = map[string]*user{}
	}
	for _, u := range s.users {
		s.soc.lids[u.lid] = u
	}
	return s.soc.lids[lid]
}

// accountOf resolves a PN or LID JID (any device) to its account; phone
// numbers become accounts on first use, as everywhere in the simulator.
func (s *Server) accountOf(ctx context.Context, jid types.JID) (*user, error) {
	switch jid.Server {
	case types.DefaultUserServer, types.LegacyUserServer:
		return s.userFor(ctx, jid.User)
	case types.HiddenUserServer:
		if u := s.userByLID(jid.User); u != nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotOnWhatsApp, jid)
}

// pnDevice is the same device addressed by its account's phone number;
// other JIDs are returned unchanged.
func (s *Server) pnDevice(jid types.JID) types.JID {
	if jid.Server != types.HiddenUserServer {
		return jid
	}
	if u := s.userByLID(jid.User); u != nil {
		return types.JID{User: u.phone, Server: types.DefaultUserServer, Device: jid.Device}
	}
	return jid
}

func (u *user) lidDevice(dev uint16) types.JID {
	return types.JID{User: u.lid, Server: types.HiddenUserServer, Device: dev}
}

func (u *user) pnDevice(dev uint16) types.JID {
	return types.JID{User: u.phone, Server: types.DefaultUserServer, Device: dev}
}

// isUserJID reports whether jid addresses a person (PN or LID), not a
// group, broadcast list or server.
func isUserJID(jid types.JID) bool {
	return jid.Server == types.DefaultUserServer || jid.Server == types.HiddenUserServer
}

// dmRefusal is the ack error WhatsApp gives a DM from sender (a linked
// device) to to: 463 when to is no WhatsApp user, 403 when the sending
// account blocked the recipient (whatsmeow issue #379: "server returned
// error 403" after blocking the receiver). "" lets it through.
func (s *Server) dmRefusal(ctx context.Context, sender, to types.JID) string {
	if !isUserJID(to) || to.Server == types.DefaultUserServer && !onWhatsApp(to.User) {
		return "463"
	}
	rcpt, err := s.accountOf(ctx, to)
	if err != nil {
		return "463"
	}
	if s.blocked(ctx, sender.User, rcpt.phone) {
		return "403"
	}
	if from, err := s.accountOf(ctx, sender.ToNonAD()); err == nil {
		if code := s.restrictionRefusal(from.phone, rcpt.phone); code != "" {
			return code
		}
	}
	return ""
}

// dmAddressing sets the addressing attributes of a DM that sender (an
// account's device) sent into chat, as delivered to a linked device: from
// in the chat's addressing (PN or LID) with the other form in sender_lid /
// sender_pn, so whatsmeow fills MessageSource.SenderAlt and learns the
// mapping. A copy for the sender's own devices carries recipient and
// peer_recipient_lid / peer_recipient_pn (RecipientAlt) instead.
func (s *Server) dmAddressing(ctx context.Context, attrs waBinary.Attrs, sender *user, senderDev uint16, chat types.JID, own bool) {
	byLID := chat.Server == types.HiddenUserServer
	if own {
		// chat is the other party of the sender's chat.
		if byLID {
			attrs["from"] = sender.lidDevice(senderDev)
		} else {
			attrs["from"] = sender.pnDevice(senderDev)
		}
		attrs["recipient"] = chat.ToNonAD()
		if peer, err := s.accountOf(ctx, chat); err == nil {
			if byLID {
				attrs["peer_recipient_pn"] = peer.jid()
			} else {
				attrs["peer_recipient_lid"] = peer.lidJID()
			}
		}
		return
	}
	if byLID {
		attrs["from"] = sender.lidDevice(senderDev)
		attrs["sender_pn"] = sender.jid()
	} else {
		attrs["from"] = sender.pnDevice(senderDev)
		attrs["sender_lid"] = sender.lidJID()
	}
}

// MigrateToLID is the account's own phone telling its linked devices that
// its chats moved to LID addressing (a LID_MIGRATION_MAPPING_SYNC protocol
// message with every known PN→LID mapping and the migration time). From
// then on whatsmeow sends DMs to LIDs on the wire. It returns the id of
// the protocol message.
func (s *Server) MigrateToLID(ctx context.Context, account string) (string, error) {
	own, err := s.userFor(ctx, account)
	if err != nil {
		return "", err
	}
	devices := s.devicesOf(own)[1:]
	if len(devices) == 0 {
		return "", fmt.Errorf("%w: +%s", ErrNotLinked, own.phone)
	}
	payload := &waLidMigrationSyncPayload.LIDMigrationMappingSyncPayload{
		ChatDbMigrationTimestamp: proto.Uint64(uint64(time.Now().Unix())),
	}
	s.mu.Lock()
	for _, u := range s.users {
		pn, err1 := strconv.ParseUint(u.phone, 10, 64)
		lid, err2 := strconv.ParseUint(u.lid, 10, 64)
		if err1 == nil && err2 == nil {
			payload.PnToLidMappings = append(payload.PnToLidMappings, &waLidMigrationSyncPayload.LIDMigrationMapping{
				Pn: proto.Uint64(pn), AssignedLid: proto.Uint64(lid),
			})
		}
	}
	s.mu.Unlock()
	encoded, err := proto.Marshal(payload)
	if err != nil {
		return "", err
	}
	msg := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type:                           waE2E.ProtocolMessage_LID_MIGRATION_MAPPING_SYNC.Enum(),
		LidMigrationMappingSyncMessage: &waE2E.LIDMigrationMappingSyncMessage{EncodedMappingPayload: encoded},
	}}
	id := "3EB0" + randomID(8)
	for _, d := range devices {
		enc, err := s.phoneEncrypt(ctx, own, d, msg)
		if err != nil {
			return "", err
		}
		s.deliver(ctx, d, waBinary.Node{Tag: "message", Attrs: waBinary.Attrs{
			"from": own.jid(), "id": id, "t": time.Now().Unix(), "type": "protocol", "category": "peer",
		}, Content: []waBinary.Node{enc}})
	}
	return id, nil
}
