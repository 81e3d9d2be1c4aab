package instance

import (
	"context"
	"encoding/json"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// WebhookConfig returns an instance's webhook, secret included, for the
// delivery worker.
func (m *Manager) WebhookConfig(id string) (Webhook, error) {
	inst, err := m.lookup(id)
	if err != nil {
		return Webhook{}, err
	}
	return inst.snapshot().webhook, nil
}

// DisableWebhook turns an instance's webhook off (its receiver answered 410
// Gone) and records a webhook.disabled event saying why.
func (m *Manager) DisableWebhook(ctx context.Context, id, url, reason string) error {
	inst, err := m.lookup(id)
	if err != nil {
		return err
	}
	return inst.do(ctx, func() error {
		if !inst.webhook.Enabled || inst.webhook.URL != url {
			return nil // changed meanwhile: the new configuration stands
		}
		wh := inst.webhook
		wh.Enabled = false
		wj, _ := json.Marshal(wh)
		data, _ := json.Marshal(event.WebhookDisabled{URL: MaskURL(url), Reason: reason, At: time.Now().UTC()})
		// The row and its event in one transaction, as every change.
		if err := inst.saveRow(ctx, func(r *store.Instance) { r.Webhook = wj },
			store.Event{Type: event.TypeWebhookDisabled, Data: data}); err != nil {
			return err
		}
		inst.webhook = wh
		inst.publish()
		return nil
	})
}
