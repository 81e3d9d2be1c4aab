package wasim

import "context"

func (l local) SetProfile(_ context.Context, phone string, p Profile) error {
	return l.s.SetProfile(phone, p)
}
func (l local) SetPresence(_ context.Context, phone string, available bool) error {
	return l.s.SetPresence(phone, available)
}
func (l local) SetChatState(_ context.Context, contact, to, state string) error {
	return l.s.SetChatState(contact, to, state)
}
func (l local) MigrateToLID(ctx context.Context, account string) (string, error) {
	return l.s.MigrateToLID(ctx, account)
}

// socialControlRoutes adds the control routes of profiles and presence.
func socialControlRoutes(c Control, handle func(string, func(context.Context, controlRequest) (controlResponse, error))) {
	handle("set-profile", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		if req.Profile == nil {
			return controlResponse{}, specErr("profile", "is required")
		}
		return controlResponse{}, c.SetProfile(ctx, req.Phone, *req.Profile)
	})
	handle("set-presence", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		return controlResponse{}, c.SetPresence(ctx, req.Phone, req.Available)
	})
	handle("set-chat-state", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		return controlResponse{}, c.SetChatState(ctx, req.From, req.To, req.State)
	})
	handle("migrate-to-lid", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		id, err := c.MigrateToLID(ctx, req.Phone)
		return controlResponse{ID: id}, err
	})
}

func (r *remote) SetProfile(ctx context.Context, phone string, p Profile) error {
	_, err := r.call(ctx, "set-profile", controlRequest{Phone: phone, Profile: &p})
	return err
}
func (r *remote) SetPresence(ctx context.Context, phone string, available bool) error {
	_, err := r.call(ctx, "set-presence", controlRequest{Phone: phone, Available: available})
	return err
}
func (r *remote) SetChatState(ctx context.Context, contact, to, state string) error {
	_, err := r.call(ctx, "set-chat-state", controlRequest{From: contact, To: to, State: state})
	return err
}
func (r *remote) MigrateToLID(ctx context.Context, account string) (string, error) {
	resp, err := r.call(ctx, "migrate-to-lid", controlRequest{Phone: account})
	return resp.ID, err
}
