package wasim

import (
	"context"
	"fmt"

	"go.mau.fi/whatsmeow/types"
)

// GroupSpec is a group a simulated contact (Owner) creates.
type GroupSpec struct {
	Owner        string   `json:"owner"` // +E164 of the creating contact
	Subject      string   `json:"subject"`
	Participants []string `json:"participants"` // +E164 each; an instance's number may be one
	// Addressing is "pn" (default) or "lid".
	Addressing string `json:"addressing,omitempty"`
}

// CreateGroup is a contact creating a group: the owner is its superadmin,
// the participants are added (numbers not on WhatsApp are refused), and
// every member's linked devices learn of it (events.JoinedGroup).
func (s *Server) CreateGroup(ctx context.Context, spec GroupSpec) (types.JID, error) {
	owner, err := normalizePhone(spec.Owner)
	if err != nil {
		return types.EmptyJID, &SpecError{Field: "owner", Msg: err.Error()}
	}
	if spec.Subject == "" {
		return types.EmptyJID, specErr("subject", "is required")
	}
	if spec.Addressing != "" && spec.Addressing != "pn" && spec.Addressing != "lid" {
		return types.EmptyJID, specErr("addressing", "must be pn or lid")
	}
	var asked []types.JID
	for i, p := range spec.Participants {
		d, err := normalizePhone(p)
		if err != nil {
			return types.EmptyJID, specErr(fmt.Sprintf("participants[%d]", i), "%v", err)
		}
		if !onWhatsApp(d) {
			return types.EmptyJID, specErr(fmt.Sprintf("participants[%d]", i), "%s is not on WhatsApp", p)
		}
		asked = append(asked, types.NewJID(d, types.DefaultUserServer))
	}
	if !onWhatsApp(owner) {
		return types.EmptyJID, specErr("owner", "%s is not on WhatsApp", spec.Owner)
	}
	g, _, err := s.createGroupAs(ctx, owner, spec.Subject, "", asked, false, false, spec.Addressing == "lid")
	if err != nil {
		return types.EmptyJID, err
	}
	return g.jid(), nil
}

// UpdateGroupParticipants is a member (an admin) of a group adding,
// removing, promoting or demoting members; it returns the per-participant
// error codes WhatsApp answers (0 = done).
func (s *Server) UpdateGroupParticipants(ctx context.Context, group types.JID, actor, action string, phones []string) (map[string]int, error) {
	a, err := normalizePhone(actor)
	if err != nil {
		return nil, err
	}
	switch action {
	case "add", "remove", "promote", "demote":
	default:
		return nil, fmt.Errorf("wasim: unknown participant action %q", action)
	}
	var asked []types.JID
	for _, p := range phones {
		d, err := normalizePhone(p)
		if err != nil {
			return nil, err
		}
		asked = append(asked, types.NewJID(d, types.DefaultUserServer))
	}
	results, err := s.changeParticipants(ctx, group, a, action, asked)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range results {
		out["+"+r.jid.User] = r.code
	}
	return out, nil
}

// SetGroupSubject is a member renaming a group (admins only when locked).
func (s *Server) SetGroupSubject(ctx context.Context, group types.JID, actor, subject string) error {
	a, err := normalizePhone(actor)
	if err != nil {
		return err
	}
	return s.setGroupSubject(ctx, group, a, subject)
}

func (l local) CreateGroup(ctx context.Context, spec GroupSpec) (types.JID, error) {
	return l.s.CreateGroup(ctx, spec)
}

func (r *remote) CreateGroup(ctx context.Context, spec GroupSpec) (types.JID, error) {
	return r.jid(ctx, "create-group", controlRequest{Group: &spec})
}

func (l local) AddContactDevice(ctx context.Context, phone string) (types.JID, error) {
	return l.s.AddContactDevice(ctx, phone)
}

func (r *remote) AddContactDevice(ctx context.Context, phone string) (types.JID, error) {
	return r.jid(ctx, "add-contact-device", controlRequest{Phone: phone})
}

func groupControlRoutes(c Control, handle func(string, func(context.Context, controlRequest) (controlResponse, error))) {
	handle("create-group", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		if req.Group == nil {
			return controlResponse{}, specErr("group", "is required")
		}
		jid, err := c.CreateGroup(ctx, *req.Group)
		return controlResponse{JID: jid.String()}, err
	})
	handle("add-contact-device", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		jid, err := c.AddContactDevice(ctx, req.Phone)
		return controlResponse{JID: jid.String()}, err
	})
}
