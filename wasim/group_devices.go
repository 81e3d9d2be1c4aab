package wasim

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.mau.fi/libsignal/ecc"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// A contact can have more than its phone: extra simulated devices (say a
// desktop), each with its own Signal identity and prekeys, decrypting on
// the server like the phone. They appear in the contact's device list, so
// a linked client sending to the contact or its groups encrypts for each.

const simDeviceSchema = `
CREATE TABLE IF NOT EXISTS wasim_sim_devices (
	jid        TEXT PRIMARY KEY,
	phone      TEXT NOT NULL
);
`

// simDevice is a device the simulator plays: a phone (device 0) or a
// contact's extra device.
type simDevice struct {
	mu  *sync.Mutex // the phone's phoneMu, or the device's own
	jid types.JID
	u   *user
	dev *store.Device // extra devices: loaded on first use
}

// simDevices are the contacts' extra devices; Server.simDevs.
type simDevices struct {
	mu sync.Mutex
	m  map[string][]*simDevice // by phone digits
}

func (s *Server) loadSimDevices(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, simDeviceSchema); err != nil {
		return fmt.Errorf("wasim: device schema: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT jid, phone FROM wasim_sim_devices ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("wasim: load devices: %w", err)
	}
	defer rows.Close()
	s.simDevs.mu.Lock()
	defer s.simDevs.mu.Unlock()
	s.simDevs.m = map[string][]*simDevice{}
	for rows.Next() {
		var jid, phone string
		if err := rows.Scan(&jid, &phone); err != nil {
			return fmt.Errorf("wasim: load devices: %w", err)
		}
		j, err := types.ParseJID(jid)
		if err != nil {
			return fmt.Errorf("wasim: load devices: %w", err)
		}
		if u := s.lookupUser(phone); u != nil {
			s.simDevs.m[phone] = append(s.simDevs.m[phone], &simDevice{mu: &sync.Mutex{}, jid: j, u: u})
		}
	}
	return rows.Err()
}

// AddContactDevice gives a simulated contact one more device of its own
// (its phone stays device 0) and returns its JID.
func (s *Server) AddContactDevice(ctx context.Context, phone string) (types.JID, error) {
	u, err := s.userFor(ctx, phone)
	if err != nil {
		return types.EmptyJID, err
	}
	n, err := s.allocDevice(ctx, u)
	if err != nil {
		return types.EmptyJID, err
	}
	sd := &simDevice{mu: &sync.Mutex{}, jid: types.JID{User: u.phone, Server: types.DefaultUserServer, Device: n}, u: u}
	sd.mu.Lock()
	_, err = s.simStore(ctx, sd)
	sd.mu.Unlock()
	if err != nil {
		return types.EmptyJID, err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO wasim_sim_devices (jid, phone) VALUES (?, ?)`, sd.jid.String(), u.phone); err != nil {
		return types.EmptyJID, fmt.Errorf("wasim: store device: %w", err)
	}
	s.simDevs.mu.Lock()
	if s.simDevs.m == nil {
		s.simDevs.m = map[string][]*simDevice{}
	}
	s.simDevs.m[u.phone] = append(s.simDevs.m[u.phone], sd)
	s.simDevs.mu.Unlock()
	s.mu.Lock()
	s.notify()
	s.mu.Unlock()
	return sd.jid, nil
}

// simDeviceFor returns the simulated device n of an account (0 = phone),
// or nil.
func (s *Server) simDeviceFor(u *user, n uint16) *simDevice {
	if n == 0 {
		return &simDevice{mu: &u.phoneMu, jid: u.jid(), u: u}
	}
	s.simDevs.mu.Lock()
	defer s.simDevs.mu.Unlock()
	for _, sd := range s.simDevs.m[u.phone] {
		if sd.jid.Device == n {
			return sd
		}
	}
	return nil
}

// allDevicesOf lists an account's devices: the phone, its extra simulated
// devices, then the linked devices.
func (s *Server) allDevicesOf(u *user) []types.JID {
	all := s.devicesOf(u)
	s.simDevs.mu.Lock()
	var extra []types.JID
	for _, sd := range s.simDevs.m[u.phone] {
		extra = append(extra, sd.jid)
	}
	s.simDevs.mu.Unlock()
	return slices.Insert(all, 1, extra...)
}

// simStore is a simulated device's Signal store, created on first use.
// Call with sd.mu held.
func (s *Server) simStore(ctx context.Context, sd *simDevice) (*store.Device, error) {
	if sd.jid.Device == 0 {
		return s.phoneDevice(ctx, sd.u)
	}
	if sd.dev != nil {
		return sd.dev, nil
	}
	dev, err := s.devices.GetDevice(ctx, sd.jid)
	if err != nil {
		return nil, fmt.Errorf("wasim: load device %s: %w", sd.jid, err)
	}
	if dev == nil {
		dev = s.devices.NewDevice()
		jid := sd.jid
		dev.ID = &jid
		lid := sd.u.lidJID()
		lid.Device = sd.jid.Device
		dev.LID = lid
		dev.RegistrationID &= 0x3fff
		dev.Account = &waAdv.ADVSignedDeviceIdentity{
			Details: []byte{}, AccountSignature: make([]byte, 64),
			AccountSignatureKey: dev.IdentityKey.Pub[:], DeviceSignature: make([]byte, 64),
		}
		if err := s.devices.PutDevice(ctx, dev); err != nil {
			return nil, fmt.Errorf("wasim: create device %s: %w", sd.jid, err)
		}
	}
	sd.dev = dev
	return dev, nil
}

// simDecrypt is a simulated device decrypting a pkmsg or msg; the session
// is keyed by the sender's phone-number device, whatever the addressing.
func (s *Server) simDecrypt(ctx context.Context, sd *simDevice, sender types.JID, enc waBinary.Node) (*waE2E.Message, error) {
	if sd.jid.Device == 0 {
		return s.phoneDecrypt(ctx, sd.u, sender, enc)
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	dev, err := s.simStore(ctx, sd)
	if err != nil {
		return nil, err
	}
	return signalDecrypt(ctx, dev, sender, enc)
}

// simDeviceBundle answers a prekey fetch for a contact's extra device; ok
// is false for any other device.
func (s *Server) simDeviceBundle(ctx context.Context, jid types.JID) (n waBinary.Node, ok bool, err error) {
	if jid.Device == 0 {
		return n, false, nil
	}
	u := s.lookupUser(s.phoneOfJID(jid))
	if u == nil {
		return n, false, nil
	}
	sd := s.simDeviceFor(u, jid.Device)
	if sd == nil {
		return n, false, nil
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	dev, err := s.simStore(ctx, sd)
	if err != nil {
		return n, true, err
	}
	pk, err := dev.PreKeys.GenOnePreKey(ctx)
	if err != nil {
		return n, true, err
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
		{Tag: "registration", Content: be32(dev.RegistrationID)},
		{Tag: "type", Content: []byte{ecc.DjbType}},
		{Tag: "identity", Content: dev.IdentityKey.Pub[:]},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: be24(dev.SignedPreKey.KeyID)},
			{Tag: "value", Content: dev.SignedPreKey.Pub[:]},
			{Tag: "signature", Content: dev.SignedPreKey.Signature[:]},
		}},
		{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: be24(pk.KeyID)},
			{Tag: "value", Content: pk.Pub[:]},
		}},
	}}, true, nil
}

// SimDeviceMessages counts the messages a contact's extra device (or any
// simulated device but a phone) decrypted.
func (s *Server) SimDeviceMessages(device types.JID) (n int) {
	s.read(func(o *observations) { n = o.simDeviceMessages[device.String()] })
	return n
}

// simDeviceTake lets a contact's extra device decrypt a DM a linked device
// sent it; it reports false for any other destination.
func (s *Server) simDeviceTake(ctx context.Context, sender, dest types.JID, enc waBinary.Node) bool {
	if dest.Device == 0 {
		return false
	}
	u := s.lookupUser(dest.User)
	if u == nil {
		return false
	}
	sd := s.simDeviceFor(u, dest.Device)
	if sd == nil {
		return false
	}
	if _, err := s.simDecrypt(ctx, sd, sender, enc); err != nil {
		s.log.Warn("wasim: device cannot decrypt", "device", dest, "from", sender, "err", err)
		s.record(func(o *observations) { o.decryptFailures++ })
		return true
	}
	s.record(func(o *observations) { o.simDeviceMessages[dest.String()]++ })
	return true
}

// PhashMismatches counts group messages whose participant hash was stale.
func (s *Server) PhashMismatches() (n int) {
	s.read(func(o *observations) { n = o.phashMismatches })
	return n
}
