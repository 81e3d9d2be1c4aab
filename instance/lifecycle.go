package instance

import (
	"context"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Connect starts the instance: it logs in if linked, else shows a QR code.
func (m *Manager) Connect(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	err = inst.do(ctx, func() error {
		switch st := inst.state(); st {
		case event.StateStarting, event.StateScanQR, event.StateConnected:
			return &StateError{Err: ErrAlreadyConnected, State: st}
		}
		inst.setDesired(ctx, store.DesiredRunning)
		inst.start(event.ReasonUserRequest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Disconnect stops the instance and keeps its link.
func (m *Manager) Disconnect(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	err = inst.do(ctx, func() error {
		st := inst.state()
		if inst.cli == nil && inst.row.Desired == store.DesiredStopped {
			return &StateError{Err: ErrNotConnected, State: st}
		}
		inst.setDesired(ctx, store.DesiredStopped)
		inst.stopClient()
		inst.setState(event.StateDisconnected, event.ReasonUserRequest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Restart disconnects and connects again, keeping the link.
func (m *Manager) Restart(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	err = inst.do(ctx, func() error {
		if inst.row.JID == "" {
			// Restart keeps a link; without one there is nothing to restart.
			return &StateError{Err: ErrNotPaired, State: inst.row.State}
		}
		inst.stopClient()
		inst.setDesired(ctx, store.DesiredRunning)
		inst.start(event.ReasonRestart)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Logout unlinks the device from the phone.
func (m *Manager) Logout(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	if err := inst.do(ctx, func() error { return inst.logout(ctx) }); err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// QR returns the QR code the instance shows now.
func (m *Manager) QR(idOrName string) (*QR, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	snap := inst.snapshot()
	if snap.qr == nil || snap.info.State != event.StateScanQR {
		return nil, &StateError{Err: ErrNotAwaitingQR, State: snap.info.State}
	}
	return snap.qr, nil
}

// WaitQR waits until the instance shows a QR code (or stops waiting for one).
func (m *Manager) WaitQR(ctx context.Context, idOrName string) (*QR, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	return inst.waitQR(ctx)
}

// Watch returns a channel closed at the instance's next change, and the
// current view; callers loop on it to follow an instance.
func (m *Manager) Watch(idOrName string) (<-chan struct{}, *Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, nil, err
	}
	ch, snap := inst.watch()
	return ch, snap.info, nil
}

// PairCode asks WhatsApp for an 8-character code to enter on the phone.
func (m *Manager) PairCode(ctx context.Context, idOrName, phone string) (string, error) {
	if !ValidPhone(phone) {
		return "", invalid("phone", phoneRule)
	}
	inst, err := m.lookup(idOrName)
	if err != nil {
		return "", err
	}
	// Right after connect the QR (and so the registration socket) may still
	// be on its way; wait for it briefly.
	wctx, cancel := context.WithTimeout(ctx, m.opts.QRWait)
	_, _ = inst.waitQR(wctx)
	cancel()
	var code string
	err = inst.do(ctx, func() error {
		var err error
		code, err = inst.pairCode(ctx, phone)
		return err
	})
	return code, err
}
