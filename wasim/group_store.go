package wasim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// The simulator's groups: one row per group, the group as JSON, kept in
// memory and written through on every change, so a restarted simulator
// knows them (with DBPath set).
const groupSchema = `
CREATE TABLE IF NOT EXISTS wasim_groups (
	id         TEXT PRIMARY KEY,
	data       TEXT NOT NULL
);
`

// Errors of the group controls.
var (
	ErrGroupNotFound = errors.New("wasim: no such group")
	ErrNotInGroup    = errors.New("wasim: not a member of the group")
	ErrNotGroupAdmin = errors.New("wasim: not an admin of the group")
)

// groupRow is a group as the server keeps it. Members are phone digits;
// their LIDs come from the accounts.
type groupRow struct {
	ID        string        `json:"id"` // the JID's user part, 120363…
	Subject   string        `json:"subject"`
	SubjectT  int64         `json:"subject_t"`
	SubjectBy string        `json:"subject_by"`
	Creation  int64         `json:"creation"`
	Creator   string        `json:"creator"`
	Desc      string        `json:"desc,omitempty"`
	DescID    string        `json:"desc_id,omitempty"`
	DescT     int64         `json:"desc_t,omitempty"`
	DescBy    string        `json:"desc_by,omitempty"`
	Announce  bool          `json:"announce,omitempty"`
	Locked    bool          `json:"locked,omitempty"`
	LID       bool          `json:"lid,omitempty"` // addressing_mode=lid
	Invite    string        `json:"invite"`
	Revoked   []string      `json:"revoked,omitempty"` // reset invite codes
	Members   []groupMember `json:"members"`
	Version   int           `json:"version"` // bumped by every change (v_id)
}

type groupMember struct {
	Phone string `json:"phone"`
	Role  string `json:"role,omitempty"` // "", admin, superadmin
}

func (g *groupRow) jid() types.JID { return types.NewJID(g.ID, types.GroupServer) }

func (g *groupRow) member(phone string) *groupMember {
	for i := range g.Members {
		if g.Members[i].Phone == phone {
			return &g.Members[i]
		}
	}
	return nil
}

func (g *groupRow) isAdmin(phone string) bool {
	m := g.member(phone)
	return m != nil && m.Role != ""
}

func (g *groupRow) clone() *groupRow {
	c := *g
	c.Members = slices.Clone(g.Members)
	c.Revoked = slices.Clone(g.Revoked)
	return &c
}

func (g *groupRow) phones() []string {
	out := make([]string, len(g.Members))
	for i, m := range g.Members {
		out[i] = m.Phone
	}
	return out
}

// groupStore is the groups in memory; Server.groups.
type groupStore struct {
	mu sync.Mutex
	m  map[string]*groupRow // by id
}

func (s *Server) loadGroups(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, groupSchema); err != nil {
		return fmt.Errorf("wasim: group schema: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM wasim_groups`)
	if err != nil {
		return fmt.Errorf("wasim: load groups: %w", err)
	}
	defer rows.Close()
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	s.groups.m = map[string]*groupRow{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("wasim: load groups: %w", err)
		}
		var g groupRow
		if err := json.Unmarshal([]byte(data), &g); err != nil {
			return fmt.Errorf("wasim: load groups: %w", err)
		}
		s.groups.m[g.ID] = &g
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return s.loadSimDevices(ctx)
}

// group returns a copy of a group, or nil.
func (s *Server) group(jid types.JID) *groupRow {
	if jid.Server != types.GroupServer {
		return nil
	}
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	if g := s.groups.m[jid.User]; g != nil {
		return g.clone()
	}
	return nil
}

// groupsOf returns copies of the groups a phone is in.
func (s *Server) groupsOf(phone string) []*groupRow {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	var out []*groupRow
	for _, g := range s.groups.m {
		if g.member(phone) != nil {
			out = append(out, g.clone())
		}
	}
	slices.SortFunc(out, func(a, b *groupRow) int { return int(a.Creation - b.Creation) })
	return out
}

// groupByInvite finds the group of an invite code; revoked tells a code
// that was reset.
func (s *Server) groupByInvite(code string) (g *groupRow, revoked bool) {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	for _, x := range s.groups.m {
		if x.Invite == code {
			return x.clone(), false
		}
		if slices.Contains(x.Revoked, code) {
			revoked = true
		}
	}
	return nil, revoked
}

// saveGroup stores a group and makes it current. Call with groups.mu held.
func (s *Server) saveGroup(ctx context.Context, g *groupRow) error {
	data, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO wasim_groups (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`, g.ID, string(data)); err != nil {
		return fmt.Errorf("wasim: store group: %w", err)
	}
	if s.groups.m == nil {
		s.groups.m = map[string]*groupRow{}
	}
	s.groups.m[g.ID] = g
	return nil
}

// updateGroup applies f to a copy of the group and stores the result
// unless f fails; it returns the group as before and after.
func (s *Server) updateGroup(ctx context.Context, jid types.JID, f func(g *groupRow) error) (before, after *groupRow, err error) {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	cur := s.groups.m[jid.User]
	if cur == nil || jid.Server != types.GroupServer {
		return nil, nil, fmt.Errorf("%w: %s", ErrGroupNotFound, jid)
	}
	next := cur.clone()
	if err := f(next); err != nil {
		return nil, nil, err
	}
	next.Version++
	if err := s.saveGroup(ctx, next); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	s.notify()
	s.mu.Unlock()
	return cur.clone(), next.clone(), nil
}

// newGroup stores a new group with its creator as superadmin.
func (s *Server) newGroup(ctx context.Context, creator, subject string, members []string, lid bool) (*groupRow, error) {
	g := &groupRow{ID: "120363" + randomDigits(12), Subject: subject, Creator: creator, SubjectBy: creator,
		Creation: time.Now().Unix(), Invite: randomInvite(), LID: lid}
	g.SubjectT = g.Creation
	g.Members = append(g.Members, groupMember{Phone: creator, Role: "superadmin"})
	for _, p := range members {
		if g.member(p) == nil {
			g.Members = append(g.Members, groupMember{Phone: p})
		}
	}
	s.groups.mu.Lock()
	err := s.saveGroup(ctx, g)
	s.groups.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.notify()
	s.mu.Unlock()
	return g.clone(), nil
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

// randomInvite is a 22-character code like WhatsApp's.
func randomInvite() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[d.Int64()]
	}
	return string(b)
}

// Group is a snapshot of a simulated group, for tests and the sandbox.
type Group struct {
	JID          types.JID
	Subject      string
	Creator      string // +E164
	Created      time.Time
	Description  string
	Announce     bool
	Locked       bool
	Addressing   types.AddressingMode
	InviteCode   string
	Participants []GroupParticipant
}

// GroupParticipant is a member of a Group.
type GroupParticipant struct {
	Phone string // +E164
	PN    types.JID
	LID   types.JID
	Role  string // "", admin, superadmin
}

// Group returns a snapshot of a group.
func (s *Server) Group(jid types.JID) (Group, error) {
	g := s.group(jid)
	if g == nil {
		return Group{}, fmt.Errorf("%w: %s", ErrGroupNotFound, jid)
	}
	out := Group{JID: g.jid(), Subject: g.Subject, Creator: "+" + g.Creator, Created: time.Unix(g.Creation, 0),
		Description: g.Desc, Announce: g.Announce, Locked: g.Locked, Addressing: types.AddressingModePN, InviteCode: g.Invite}
	if g.LID {
		out.Addressing = types.AddressingModeLID
	}
	for _, m := range g.Members {
		p := GroupParticipant{Phone: "+" + m.Phone, PN: types.NewJID(m.Phone, types.DefaultUserServer), Role: m.Role}
		if u := s.lookupUser(m.Phone); u != nil {
			p.LID = u.lidJID()
		}
		out.Participants = append(out.Participants, p)
	}
	return out, nil
}

// SetGroupAddressing switches a group between PN and LID addressing, for
// tests of both kinds of groups; members learn it from the next query.
func (s *Server) SetGroupAddressing(ctx context.Context, jid types.JID, mode types.AddressingMode) error {
	if mode != types.AddressingModePN && mode != types.AddressingModeLID {
		return fmt.Errorf("wasim: addressing mode %q", mode)
	}
	_, _, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		g.LID = mode == types.AddressingModeLID
		return nil
	})
	return err
}
