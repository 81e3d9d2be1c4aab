package wasim

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// user is a WhatsApp account: a simulated phone (device 0) plus the devices
// linked to it (companions), which are real whatsmeow clients.
type user struct {
	phone      string // digits, no "+"
	lid        string // digits of the account's LID
	pushName   string
	nextDev    uint16
	companions map[uint16]*companion

	phoneMu sync.Mutex    // serialises the phone's Signal operations
	dev     *store.Device // the phone's Signal store, loaded on first use
}

func (u *user) jid() types.JID    { return types.NewJID(u.phone, types.DefaultUserServer) }
func (u *user) lidJID() types.JID { return types.NewJID(u.lid, types.HiddenUserServer) }

// companion is a linked device as the server knows it: public keys only.
type companion struct {
	jid      types.JID
	noisePub []byte
	regID    uint32
	identPub []byte
	skeyID   uint32
	skeyPub  []byte
	skeySig  []byte
	platform string
}

// normalizePhone turns "+49 151-234", "49151234" or a JID user into digits.
func normalizePhone(p string) (string, error) {
	p = strings.TrimSpace(p)
	if i := strings.IndexAny(p, "@:"); i >= 0 {
		p = p[:i]
	}
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%w: %q", ErrBadPhoneNumber, p)
		}
	}
	d := b.String()
	if len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return "", fmt.Errorf("%w: %q", ErrBadPhoneNumber, p)
	}
	return d, nil
}

// onWhatsApp is the simulator's rule: every number is a WhatsApp user except
// those starting with 999.
func onWhatsApp(digits string) bool { return !strings.HasPrefix(digits, "999") }

func (s *Server) load(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT phone, lid, push_name, next_dev FROM wasim_users`)
	if err != nil {
		return fmt.Errorf("wasim: load users: %w", err)
	}
	for rows.Next() {
		u := &user{companions: map[uint16]*companion{}}
		if err := rows.Scan(&u.phone, &u.lid, &u.pushName, &u.nextDev); err != nil {
			rows.Close()
			return fmt.Errorf("wasim: load users: %w", err)
		}
		s.users[u.phone] = u
		if n, _ := strconv.ParseUint(u.lid, 10, 64); n >= s.nextLID {
			s.nextLID = n + 1
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("wasim: load users: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT jid, noise_pub, reg_id, ident_pub, skey_id, skey_pub, skey_sig, platform FROM wasim_companions`)
	if err != nil {
		return fmt.Errorf("wasim: load devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c companion
		var jid string
		if err := rows.Scan(&jid, &c.noisePub, &c.regID, &c.identPub, &c.skeyID, &c.skeyPub, &c.skeySig, &c.platform); err != nil {
			return fmt.Errorf("wasim: load devices: %w", err)
		}
		if c.jid, err = types.ParseJID(jid); err != nil {
			return fmt.Errorf("wasim: load devices: %w", err)
		}
		if u := s.users[c.jid.User]; u != nil {
			u.companions[c.jid.Device] = &c
		}
	}
	if s.nextLID == 0 {
		s.nextLID = 100000000000001
	}
	return rows.Err()
}

// userFor returns the account for a number, creating it on first use (every
// number not starting with 999 is on the simulated WhatsApp).
func (s *Server) userFor(ctx context.Context, phone string) (*user, error) {
	digits, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	if !onWhatsApp(digits) {
		return nil, fmt.Errorf("%w: +%s", ErrNotOnWhatsApp, digits)
	}
	s.mu.Lock()
	u := s.users[digits]
	if u == nil {
		u = &user{phone: digits, lid: strconv.FormatUint(s.nextLID, 10), nextDev: 1, companions: map[uint16]*companion{}}
		s.nextLID++
		s.users[digits] = u
	}
	s.mu.Unlock()
	_, err = s.db.ExecContext(ctx, `INSERT INTO wasim_users (phone, lid, push_name, next_dev) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.phone, u.lid, u.pushName, u.nextDev)
	if err != nil {
		return nil, fmt.Errorf("wasim: store user: %w", err)
	}
	return u, nil
}

// lookupUser returns an existing or implicit account without creating rows.
func (s *Server) lookupUser(digits string) *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[digits]
}

// phoneDevice returns the Signal store of the account's phone, creating its
// identity on first use. Call with u.phoneMu held.
func (s *Server) phoneDevice(ctx context.Context, u *user) (*store.Device, error) {
	if u.dev != nil {
		return u.dev, nil
	}
	jid := u.jid()
	dev, err := s.devices.GetDevice(ctx, jid)
	if err != nil {
		return nil, fmt.Errorf("wasim: load phone %s: %w", jid, err)
	}
	if dev == nil {
		dev = s.devices.NewDevice()
		dev.ID = &jid
		dev.LID = u.lidJID()
		dev.RegistrationID &= 0x3fff
		// The device table wants an ADV identity; a phone has none of its
		// own, so store a placeholder of the right sizes.
		dev.Account = &waAdv.ADVSignedDeviceIdentity{
			Details:             []byte{},
			AccountSignature:    make([]byte, 64),
			AccountSignatureKey: dev.IdentityKey.Pub[:],
			DeviceSignature:     make([]byte, 64),
		}
		if err := s.devices.PutDevice(ctx, dev); err != nil {
			return nil, fmt.Errorf("wasim: create phone %s: %w", jid, err)
		}
	}
	u.dev = dev
	return dev, nil
}

// phoneIdentity returns the phone's identity key pair (it signs the ADV
// identities of linked devices and is the phone's Signal identity).
func (s *Server) phoneIdentity(ctx context.Context, u *user) (*keys.KeyPair, error) {
	u.phoneMu.Lock()
	defer u.phoneMu.Unlock()
	dev, err := s.phoneDevice(ctx, u)
	if err != nil {
		return nil, err
	}
	return dev.IdentityKey, nil
}

func (s *Server) addCompanion(ctx context.Context, u *user, c *companion) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO wasim_companions (jid, phone, noise_pub, reg_id, ident_pub, skey_id, skey_pub, skey_sig, platform)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.jid.String(), u.phone, c.noisePub, c.regID, c.identPub, c.skeyID, c.skeyPub, c.skeySig, c.platform)
	if err != nil {
		return fmt.Errorf("wasim: store device: %w", err)
	}
	s.mu.Lock()
	u.companions[c.jid.Device] = c
	s.notify()
	s.mu.Unlock()
	return nil
}

// allocDevice reserves the next device number of an account.
func (s *Server) allocDevice(ctx context.Context, u *user) (uint16, error) {
	s.mu.Lock()
	dev := u.nextDev
	u.nextDev++
	s.mu.Unlock()
	_, err := s.db.ExecContext(ctx, `UPDATE wasim_users SET next_dev = ? WHERE phone = ?`, dev+1, u.phone)
	if err != nil {
		return 0, fmt.Errorf("wasim: allocate device: %w", err)
	}
	return dev, nil
}

func (s *Server) removeCompanion(ctx context.Context, device types.JID) error {
	s.mu.Lock()
	u := s.users[device.User]
	var ok bool
	if u != nil {
		_, ok = u.companions[device.Device]
		delete(u.companions, device.Device)
	}
	s.notify()
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownDevice, device)
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM wasim_companions WHERE jid = ?`, device.String())
	if err == nil {
		_, err = s.db.ExecContext(ctx, `DELETE FROM wasim_prekeys WHERE jid = ?`, device.String())
	}
	if err == nil {
		_, err = s.db.ExecContext(ctx, `DELETE FROM wasim_offline WHERE jid = ?`, device.String())
	}
	if err != nil {
		return fmt.Errorf("wasim: remove device: %w", err)
	}
	return nil
}

func (s *Server) companionOf(device types.JID) *companion {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[device.User]; u != nil {
		return u.companions[device.Device]
	}
	return nil
}

// devicesOf lists an account's devices: the phone first, then the companions.
func (s *Server) devicesOf(u *user) []types.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []types.JID{u.jid()}
	for _, c := range u.companions {
		out = append(out, c.jid)
	}
	return out
}

// Devices lists the linked devices (companions) of an account.
func (s *Server) Devices(phone string) []types.JID {
	digits, err := normalizePhone(phone)
	if err != nil {
		return nil
	}
	u := s.lookupUser(digits)
	if u == nil {
		return nil
	}
	all := s.devicesOf(u)
	return all[1:]
}

func (s *Server) storePreKeys(ctx context.Context, device types.JID, ids []uint32, pubs [][]byte) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("wasim: store prekeys: %w", err)
	}
	defer tx.Rollback()
	// One prepared statement for the whole upload (812 keys at first login):
	// parsing the INSERT for each key costs more than the insert itself.
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO wasim_prekeys (jid, key_id, pub) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("wasim: store prekeys: %w", err)
	}
	defer stmt.Close()
	jid := device.String()
	for i := range ids {
		if _, err := stmt.ExecContext(ctx, jid, ids[i], pubs[i]); err != nil {
			return fmt.Errorf("wasim: store prekeys: %w", err)
		}
	}
	return tx.Commit()
}

func (s *Server) preKeyCount(ctx context.Context, device types.JID) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM wasim_prekeys WHERE jid = ?`, device.String()).Scan(&n)
	return n, err
}

// takePreKey hands out one of a device's uploaded one-time prekeys, as the
// server does for each new session; ok is false when none are left.
func (s *Server) takePreKey(ctx context.Context, device types.JID) (id uint32, pub []byte, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `DELETE FROM wasim_prekeys WHERE rowid = (SELECT rowid FROM wasim_prekeys WHERE jid = ? ORDER BY key_id LIMIT 1) RETURNING key_id, pub`,
		device.String()).Scan(&id, &pub)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, false, nil
	}
	return id, pub, err == nil, err
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(fmt.Sprintf("%x", b))
}

func be24(n uint32) []byte { var b [4]byte; binary.BigEndian.PutUint32(b[:], n); return b[1:] }
func be32(n uint32) []byte { var b [4]byte; binary.BigEndian.PutUint32(b[:], n); return b[:] }
func fromBE(b []byte) uint32 {
	var n uint32
	for _, x := range b {
		n = n<<8 | uint32(x)
	}
	return n
}
