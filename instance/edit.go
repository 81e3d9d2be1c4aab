package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Limits of an instance's own fields.
const (
	maxDeviceName  = 64
	deviceNameRule = "must be at most 64 characters"
	phoneRule      = "must be an E.164 number such as +4915123456789"
)

// CreateParams describe a new instance. Nil patches leave the defaults.
type CreateParams struct {
	Name       string
	DeviceName string
	Phone      string
	Settings   *SettingsPatch
	Webhook    *WebhookPatch
	ProxyURL   *string
	Connect    bool
	// Problems are bad fields the caller found decoding the input (their
	// parts are left nil): reported with the domain's own, and with any
	// nothing is created.
	Problems map[string]string
}

// Create stores a new instance and returns it with its token, which is
// shown only here. With Connect it starts the instance and waits briefly
// for the first QR code.
func (m *Manager) Create(ctx context.Context, p CreateParams) (*Info, string, *QR, error) {
	fields := maps.Clone(p.Problems)
	if fields == nil {
		fields = map[string]string{}
	}
	if !ValidName(p.Name) {
		fields["name"] = NameRule
	}
	if p.Phone != "" && !ValidPhone(p.Phone) {
		fields["phone"] = phoneRule
	}
	if len(p.DeviceName) > maxDeviceName {
		fields["device_name"] = deviceNameRule
	}
	settings := m.opts.Defaults
	var webhook Webhook
	var proxy string
	applyInput(fields, p.Settings, p.Webhook, p.ProxyURL, &settings, &webhook, &proxy)
	if _, bad := fields["webhook.url"]; !bad && webhook.URL != "" {
		if msg := m.selfTargetProblem(ctx, webhook.URL); msg != "" {
			fields["webhook.url"] = msg
		}
	}
	if len(fields) > 0 {
		return nil, "", nil, &ValidationError{Fields: fields}
	}
	m.mu.RLock()
	_, taken := m.byName[p.Name]
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, "", nil, ErrClosed
	}
	if taken {
		return nil, "", nil, ErrNameTaken
	}
	if err := m.store.CheckRoom(); err != nil {
		return nil, "", nil, err
	}
	token := newToken()
	sj, _ := json.Marshal(settings)
	wj, _ := json.Marshal(webhook)
	row := &store.Instance{
		ID: newID(), Name: p.Name, DeviceName: p.DeviceName, Phone: p.Phone, TokenHash: hashToken(token),
		Settings: sj, Webhook: wj, ProxyURL: proxy, Desired: store.DesiredStopped, State: event.StateCreated,
	}
	if err := m.store.CreateInstance(ctx, row); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, "", nil, ErrNameTaken
		}
		return nil, "", nil, fmt.Errorf("instance: create: %w", err)
	}
	inst := m.buildInstance(row, settings, webhook)
	m.add(inst)
	m.log.Info("instance created", "instance", p.Name, "id", row.ID)
	if !p.Connect {
		return inst.snapshot().info, token, nil, nil
	}
	if _, err := m.Connect(ctx, row.ID); err != nil {
		return nil, "", nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, m.opts.QRWait)
	defer cancel()
	qr, _ := inst.waitQR(wctx)
	return inst.snapshot().info, token, qr, nil
}

// UpdateParams is a partial change of an instance: nil fields stay.
type UpdateParams struct {
	DeviceName *string
	Settings   *SettingsPatch
	Webhook    *WebhookPatch
	ProxyURL   *string
	// Problems are as in CreateParams: with any, nothing changes.
	Problems map[string]string
}

// Update applies a partial change.
func (m *Manager) Update(ctx context.Context, idOrName string, p UpdateParams) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	// The loop check may resolve a name: done here, not on the instance's goroutine.
	selfProblem := ""
	if p.Webhook != nil && p.Webhook.URL != nil && *p.Webhook.URL != "" {
		selfProblem = m.selfTargetProblem(ctx, *p.Webhook.URL)
	}
	err = inst.do(ctx, func() error { return inst.update(ctx, p, selfProblem) })
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Delete logs the instance out if it is linked, then deletes its rows and
// its device keys.
func (m *Manager) Delete(ctx context.Context, idOrName string) error {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return err
	}
	if err := inst.do(ctx, func() error { return inst.delete(ctx) }); err != nil {
		return err
	}
	m.remove(inst)
	inst.close()
	m.log.Info("instance deleted", "instance", inst.name())
	return nil
}

// RotateToken replaces the instance's token; the old one stops working.
func (m *Manager) RotateToken(ctx context.Context, idOrName string) (string, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return "", err
	}
	token := newToken()
	h := hashToken(token)
	var old string
	err = inst.do(ctx, func() error {
		old = inst.row.TokenHash
		row := *inst.row
		row.TokenHash = h
		if err := m.store.UpdateInstance(ctx, &row); err != nil {
			return err
		}
		*inst.row = row
		return nil
	})
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	delete(m.byToken, old)
	m.byToken[h] = inst
	m.mu.Unlock()
	return token, nil
}

// Settings returns the instance's settings.
func (m *Manager) Settings(idOrName string) (Settings, error) {
	info, err := m.Get(idOrName)
	if err != nil {
		return Settings{}, err
	}
	return info.Settings, nil
}

// UpdateSettings applies a partial settings change.
func (m *Manager) UpdateSettings(ctx context.Context, idOrName string, p SettingsPatch) (Settings, error) {
	info, err := m.Update(ctx, idOrName, UpdateParams{Settings: &p})
	if err != nil {
		return Settings{}, err
	}
	return info.Settings, nil
}
