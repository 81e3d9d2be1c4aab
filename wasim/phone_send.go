package wasim

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// privacySettings is the answer to a privacy query: WhatsApp's defaults.
func privacySettings() waBinary.Node {
	cat := func(name, value string) waBinary.Node {
		return waBinary.Node{Tag: "category", Attrs: waBinary.Attrs{"name": name, "value": value}}
	}
	return waBinary.Node{Tag: "privacy", Content: []waBinary.Node{
		cat("last", "all"), cat("online", "all"), cat("profile", "all"), cat("status", "contacts"),
		cat("groupadd", "all"), cat("readreceipts", "all"), cat("calladd", "all"),
	}}
}

// recordDeviceProps keeps the device properties a client registered with
// (the name shown on the phone, whether it asked for full history).
func (s *Server) recordDeviceProps(device types.JID, raw []byte) {
	var props waCompanionReg.DeviceProps
	if proto.Unmarshal(raw, &props) != nil {
		return
	}
	s.mu.Lock()
	if s.deviceProps == nil {
		s.deviceProps = map[string]*waCompanionReg.DeviceProps{}
	}
	s.deviceProps[device.String()] = &props
	s.notify()
	s.mu.Unlock()
}

// DeviceProps returns what a linked device registered with, or nil.
func (s *Server) DeviceProps(device types.JID) *waCompanionReg.DeviceProps {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deviceProps[device.String()]
}

// PhoneSend is the account's own phone sending text to a contact: the
// contact receives it, and every linked device of the account gets a copy
// (a DeviceSentMessage), as when the user writes from the phone.
func (s *Server) PhoneSend(ctx context.Context, account, to, text string) (string, error) {
	own, err := s.userFor(ctx, account)
	if err != nil {
		return "", err
	}
	contact, err := s.userFor(ctx, to)
	if err != nil {
		return "", err
	}
	devices := s.devicesOf(own)[1:]
	if len(devices) == 0 {
		return "", fmt.Errorf("%w: +%s", ErrNotLinked, own.phone)
	}
	id := "3EB0" + randomID(8)
	now := time.Now()
	msg := &waE2E.Message{Conversation: proto.String(text)}
	dsm := &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{
		DestinationJID: proto.String(contact.jid().String()),
		Message:        msg,
	}}
	for _, d := range devices {
		enc, err := s.phoneEncrypt(ctx, own, d, dsm)
		if err != nil {
			return "", err
		}
		s.deliver(ctx, d, waBinary.Node{Tag: "message", Attrs: waBinary.Attrs{
			"from": own.jid(), "recipient": contact.jid(), "peer_recipient_lid": contact.lidJID(), "id": id, "t": now.Unix(), "type": "text",
		}, Content: []waBinary.Node{enc}})
	}
	s.recordInbox(ctx, contact, InboxMessage{ID: id, From: "+" + own.phone, Text: text, ReceivedAt: now})
	return id, nil
}
