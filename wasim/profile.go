package wasim

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waVnameCert"
	"go.mau.fi/whatsmeow/types"
)

// Profile is what other users see of an account: push name, about text,
// profile picture and, for a business account, its business profile.
type Profile struct {
	PushName string           `json:"push_name,omitempty"`
	About    string           `json:"about,omitempty"`
	Picture  []byte           `json:"picture,omitempty"` // a JPEG; nil: none
	Business *BusinessProfile `json:"business,omitempty"`
	// PictureID is set by the simulator (read only): it changes with the picture.
	PictureID string `json:"picture_id,omitempty"`
}

// BusinessProfile makes an account a business account.
type BusinessProfile struct {
	Name        string   `json:"name"` // the verified business name
	Description string   `json:"description,omitempty"`
	Address     string   `json:"address,omitempty"`
	Email       string   `json:"email,omitempty"`
	Websites    []string `json:"websites,omitempty"`
	Categories  []string `json:"categories,omitempty"`
}

// DefaultAbout is the about text of an account that never set one.
const DefaultAbout = "Hey there! I am using WhatsApp."

const (
	pictureHost = "pps.whatsapp.net"
	picturePath = "/pp/t61.24694-24/"
)

// socialSchema holds profiles and blocklists (presence is not stored, as
// WhatsApp's is not).
const socialSchema = `
CREATE TABLE IF NOT EXISTS wasim_profiles (
	phone      TEXT PRIMARY KEY,
	push_name  TEXT NOT NULL DEFAULT '',
	about      TEXT NOT NULL DEFAULT '',
	about_t    INTEGER NOT NULL DEFAULT 0,
	picture    BLOB,
	picture_id TEXT NOT NULL DEFAULT '',
	business   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS wasim_blocks (
	account    TEXT NOT NULL,
	blocked    TEXT NOT NULL,
	PRIMARY KEY (account, blocked)
);
`

type profileRow struct {
	Profile
	pushName string // as set, without the default
	aboutT   int64  // when the about text was set
}

// SetProfile replaces the profile of an account (a contact or a linked
// account): every field, so a zero field clears it. The picture must be a JPEG.
func (s *Server) SetProfile(phone string, p Profile) error {
	if len(p.Picture) > 0 && !bytes.HasPrefix(p.Picture, []byte{0xff, 0xd8, 0xff}) {
		return specErr("picture", "must be a JPEG")
	}
	if p.Business != nil && strings.TrimSpace(p.Business.Name) == "" {
		return specErr("business.name", "is required for a business account")
	}
	ctx := s.ctx
	u, err := s.userFor(ctx, phone)
	if err != nil {
		return err
	}
	old, err := s.profile(ctx, u.phone)
	if err != nil {
		return err
	}
	picID := ""
	if len(p.Picture) > 0 {
		picID = old.PictureID
		if picID == "" || !bytes.Equal(old.Picture, p.Picture) {
			picID = strconv.FormatInt(time.Now().UnixMicro(), 10)
		}
	}
	var biz string
	if p.Business != nil {
		b, _ := json.Marshal(p.Business)
		biz = string(b)
	}
	_, err = s.db.ExecContext(ctx, `INSERT OR REPLACE INTO wasim_profiles (phone, push_name, about, about_t, picture, picture_id, business)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, u.phone, p.PushName, p.About, time.Now().Unix(), p.Picture, picID, biz)
	if err != nil {
		return fmt.Errorf("wasim: store profile: %w", err)
	}
	return nil
}

// Profile returns an account's profile, with the defaults of one never set:
// push name "Contact <last 4 digits>", WhatsApp's default about text.
func (s *Server) Profile(phone string) (Profile, error) {
	digits, err := normalizePhone(phone)
	if err != nil {
		return Profile{}, err
	}
	r, err := s.profile(s.ctx, digits)
	return r.Profile, err
}

func (s *Server) profile(ctx context.Context, digits string) (profileRow, error) {
	var r profileRow
	var biz string
	err := s.db.QueryRowContext(ctx, `SELECT push_name, about, about_t, picture, picture_id, business FROM wasim_profiles WHERE phone = ?`, digits).
		Scan(&r.PushName, &r.About, &r.aboutT, &r.Picture, &r.PictureID, &biz)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r.PushName, r.About = "Contact "+digits[max(0, len(digits)-4):], DefaultAbout
		return r, nil
	case err != nil:
		return r, fmt.Errorf("wasim: profile: %w", err)
	}
	if r.pushName = r.PushName; r.PushName == "" {
		r.PushName = "Contact " + digits[max(0, len(digits)-4):]
	}
	if biz != "" {
		r.Business = &BusinessProfile{}
		if err := json.Unmarshal([]byte(biz), r.Business); err != nil {
			return r, fmt.Errorf("wasim: profile: %w", err)
		}
	}
	return r, nil
}

// profilePushName is the push name a contact's messages carry when the
// caller gave none: the one set with SetProfile, else none (as before
// profiles existed).
func (s *Server) profilePushName(ctx context.Context, digits string) string {
	r, err := s.profile(ctx, digits)
	if err != nil {
		return ""
	}
	return r.pushName
}

// userInfoNodes answers the profile protocols of a usync query for one
// user: lid, status (about), picture and business (verified name).
func (s *Server) userInfoNodes(ctx context.Context, u *user, asked types.JID, queries map[string]bool) []waBinary.Node {
	var out []waBinary.Node
	if queries["lid"] && asked.Server == types.DefaultUserServer {
		out = append(out, waBinary.Node{Tag: "lid", Attrs: waBinary.Attrs{"val": u.lidJID()}})
	}
	if !queries["status"] && !queries["picture"] && !queries["business"] {
		return out
	}
	p, err := s.profile(ctx, u.phone)
	if err != nil {
		s.log.Error("wasim: usync profile", "err", err)
		return out
	}
	if queries["status"] {
		t := p.aboutT
		if t == 0 {
			t = time.Now().Unix()
		}
		out = append(out, waBinary.Node{Tag: "status", Attrs: waBinary.Attrs{"t": t}, Content: []byte(p.About)})
	}
	if queries["picture"] && p.PictureID != "" {
		out = append(out, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{"id": p.PictureID}})
	}
	if queries["business"] && p.Business != nil {
		if cert, err := verifiedNameCert(p.Business.Name); err == nil {
			out = append(out, waBinary.Node{Tag: "business", Content: []waBinary.Node{{Tag: "verified_name", Content: cert}}})
		}
	}
	return out
}

// verifiedNameCert is a business's verified-name certificate; whatsmeow
// reads the name from its details and does not check the signature.
func verifiedNameCert(name string) ([]byte, error) {
	details, err := proto.Marshal(&waVnameCert.VerifiedNameCertificate_Details{
		Serial: proto.Uint64(1), Issuer: proto.String("smb:wa"), VerifiedName: proto.String(name),
	})
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&waVnameCert.VerifiedNameCertificate{Details: details, Signature: make([]byte, 64)})
}

// handleSocialIQ answers the profile, business, status and blocklist IQs;
// it reports whether n was one.
func (c *conn) handleSocialIQ(id, xmlns, typ string, n *waBinary.Node, first waBinary.Node, dev types.JID) bool {
	switch {
	case xmlns == "w:profile:picture" && typ == "get" && first.Tag == "picture":
		target, _ := n.Attrs["target"].(types.JID)
		c.answerPicture(id, target, first)
	case xmlns == "w:biz" && first.Tag == "business_profile":
		jid, _ := first.GetChildByTag("profile").Attrs["jid"].(types.JID)
		c.answerBusiness(id, jid)
	case xmlns == "status" && typ == "set" && first.Tag == "status" && !dev.IsEmpty():
		c.setOwnAbout(id, dev, first)
	case xmlns == "blocklist" && !dev.IsEmpty():
		c.handleBlocklist(id, typ, first, dev)
	default:
		return false
	}
	return true
}

func (c *conn) profileOf(jid types.JID) (profileRow, bool) {
	if !isUserJID(jid) || jid.Server == types.DefaultUserServer && !onWhatsApp(jid.User) {
		return profileRow{}, false
	}
	u, err := c.s.accountOf(c.ctx, jid)
	if err != nil {
		return profileRow{}, false
	}
	p, err := c.s.profile(c.ctx, u.phone)
	if err != nil {
		c.s.log.Error("wasim: profile", "err", err)
		return profileRow{}, false
	}
	return p, true
}

// answerPicture answers GetProfilePictureInfo: 404 when there is no
// picture, status 304 when the client already has this one.
func (c *conn) answerPicture(id string, target types.JID, req waBinary.Node) {
	p, ok := c.profileOf(target)
	if !ok || p.PictureID == "" {
		c.iqError(id, 404, "item-not-found")
		return
	}
	if have, _ := req.Attrs["id"].(string); have == p.PictureID {
		c.result(id, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{"status": "304"}})
		return
	}
	kind, _ := req.Attrs["type"].(string)
	if kind == "" {
		kind = "image"
	}
	u, _ := c.s.accountOf(c.ctx, target)
	direct := picturePath + u.phone + "_" + p.PictureID + ".jpg?oh=wasim&oe=" + strconv.FormatInt(time.Now().Add(30*24*time.Hour).Unix(), 16)
	c.result(id, waBinary.Node{Tag: "picture", Attrs: waBinary.Attrs{
		"id": p.PictureID, "type": kind, "direct_path": direct, "url": "https://" + pictureHost + direct,
	}})
}

// answerBusiness answers GetBusinessProfile; an account that is no
// business gets 404.
func (c *conn) answerBusiness(id string, jid types.JID) {
	p, ok := c.profileOf(jid)
	if !ok || p.Business == nil {
		c.iqError(id, 404, "item-not-found")
		return
	}
	b := p.Business
	text := func(tag, v string) waBinary.Node { return waBinary.Node{Tag: tag, Content: []byte(v)} }
	content := []waBinary.Node{text("address", b.Address), text("description", b.Description), text("email", b.Email)}
	for _, w := range b.Websites {
		content = append(content, text("website", w))
	}
	var cats []waBinary.Node
	for i, name := range b.Categories {
		cats = append(cats, waBinary.Node{Tag: "category", Attrs: waBinary.Attrs{"id": strconv.Itoa(1000 + i)}, Content: []byte(name)})
	}
	content = append(content, waBinary.Node{Tag: "categories", Content: cats})
	c.result(id, waBinary.Node{Tag: "business_profile", Attrs: waBinary.Attrs{"v": "244"}, Content: []waBinary.Node{
		{Tag: "profile", Attrs: waBinary.Attrs{"jid": jid.ToNonAD(), "tag": "0"}, Content: content},
	}})
}

// setOwnAbout is a linked device changing its account's about text
// (whatsmeow SetStatusMessage).
func (c *conn) setOwnAbout(id string, dev types.JID, n waBinary.Node) {
	var text string
	switch v := n.Content.(type) {
	case []byte:
		text = string(v)
	case string:
		text = v
	}
	_, err := c.s.db.ExecContext(c.ctx, `INSERT INTO wasim_profiles (phone, about, about_t) VALUES (?, ?, ?)
		ON CONFLICT (phone) DO UPDATE SET about = excluded.about, about_t = excluded.about_t`, dev.User, text, time.Now().Unix())
	if err != nil {
		c.s.log.Error("wasim: set about", "err", err)
		c.iqError(id, 500, "internal-error")
		return
	}
	c.result(id)
}

// profileRoutes serves profile pictures, fetched like media through
// HTTPClient: GET https://pps.whatsapp.net/pp/t61.24694-24/<phone>_<id>.jpg.
func (s *Server) profileRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+picturePath+"{file}", func(w http.ResponseWriter, r *http.Request) {
		phone, picID, ok := strings.Cut(strings.TrimSuffix(r.PathValue("file"), ".jpg"), "_")
		if !ok {
			http.NotFound(w, r)
			return
		}
		p, err := s.profile(r.Context(), phone)
		if err != nil || p.PictureID == "" || p.PictureID != picID {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(p.Picture)))
		_, _ = w.Write(p.Picture)
	})
}
