package wasim

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
)

// The simulated media CDN: blobs are files in the media directory, indexed
// in the simulator's database by the path of their direct path. Several
// paths may share one file (a media retry re-uploads under a new path), and
// an expired path answers 404 while its file stays for the re-upload.

const (
	mediaHost    = "mmg.whatsapp.net"
	mediaConnTTL = 3600
	// maxUpload bounds one upload; WhatsApp's own limit is 2 GB.
	maxUpload = 2 << 30
)

// ErrUnknownMessage is a message id the simulator has no media (or poll,
// or message) for.
var ErrUnknownMessage = errors.New("wasim: unknown message id")

// mediaAuth is the upload auth token: derived from the server's static key,
// so it is the same after a restart (whatsmeow caches media_conn).
func (s *Server) mediaAuth() string {
	h := sha256.Sum256(append([]byte("wasim media auth"), s.static.Pub[:]...))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// mediaConnNode answers <iq xmlns="w:m"><media_conn/></iq>.
func (s *Server) mediaConnNode() waBinary.Node {
	return waBinary.Node{Tag: "media_conn", Attrs: waBinary.Attrs{
		"auth": s.mediaAuth(), "ttl": mediaConnTTL, "auth_ttl": mediaConnTTL, "max_buckets": 12,
	}, Content: []waBinary.Node{{Tag: "host", Attrs: waBinary.Attrs{"hostname": mediaHost}}}}
}

// openMediaDir prepares the blob directory; "" makes a temporary one that
// Close removes.
func (s *Server) openMediaDir() error {
	if s.opts.MediaDir == "" {
		dir, err := os.MkdirTemp("", "wasim-media-")
		if err != nil {
			return fmt.Errorf("wasim: media dir: %w", err)
		}
		s.mediaDir, s.mediaTemp = dir, true
		return nil
	}
	if err := os.MkdirAll(s.opts.MediaDir, 0o700); err != nil {
		return fmt.Errorf("wasim: media dir: %w", err)
	}
	s.mediaDir = s.opts.MediaDir
	return nil
}

func (s *Server) mediaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /mms/{type}/{token}", s.serveUpload)
	mux.HandleFunc("POST /newsletter/{type}/{token}", s.serveUpload)
	mux.HandleFunc("GET /v/", s.serveDownload)
}

// newDirectPath makes a direct path like WhatsApp's (with a query, which
// whatsmeow appends "&hash=…" to) and the index key (its path part).
func newDirectPath() (direct, key string) {
	key = "/v/t62.7118-24/" + strings.ToLower(randomID(16)) + ".enc"
	return key + "?ccb=11-4&oh=01_" + randomID(8) + "&oe=" + fmt.Sprintf("%X", time.Now().Add(14*24*time.Hour).Unix()), key
}

func mediaURL(direct string) string { return "https://" + mediaHost + direct + "&mms3=true" }

// serveUpload stores a client's upload, streamed to a file: the body is
// hashed on the way and must match the token and Content-Length.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	if auth := r.URL.Query().Get("auth"); auth != s.mediaAuth() {
		http.Error(w, "bad auth", http.StatusUnauthorized)
		return
	}
	token := r.PathValue("token")
	want, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(want) != sha256.Size {
		http.Error(w, "bad token", http.StatusBadRequest)
		return
	}
	if r.ContentLength < 0 {
		http.Error(w, "length required", http.StatusLengthRequired)
		return
	}
	if r.ContentLength > maxUpload {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	f, err := os.CreateTemp(s.mediaDir, "upload-*")
	if err != nil {
		s.log.Error("wasim: media upload", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer func() {
		f.Close()
		_ = os.Remove(f.Name()) // gone already when kept (renamed)
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r.Body, r.ContentLength+1))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	sum := h.Sum(nil)
	if n != r.ContentLength || n <= 10 {
		s.recordUploadRefused(fmt.Sprintf("size %d, Content-Length %d", n, r.ContentLength))
		http.Error(w, "size does not match Content-Length", http.StatusBadRequest)
		return
	}
	if string(sum) != string(want) {
		s.recordUploadRefused("body hash does not match the token")
		http.Error(w, "hash does not match token", http.StatusBadRequest)
		return
	}
	if err := f.Close(); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	direct, err := s.keepBlob(r.Context(), f.Name(), n, sum, r.PathValue("type"))
	if err != nil {
		s.log.Error("wasim: media upload", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"url": mediaURL(direct), "direct_path": direct,
		"handle": randomID(16), "object_id": randomID(8),
	})
}

func (s *Server) recordUploadRefused(why string) {
	s.log.Warn("wasim: media upload refused", "why", why)
	s.record(func(o *observations) { o.uploadsRefused++ })
}

// keepBlob moves a written blob file into the store under a new direct
// path and indexes it.
func (s *Server) keepBlob(ctx context.Context, tmp string, size int64, encSHA []byte, mms string) (string, error) {
	direct, key := newDirectPath()
	name := strings.TrimSuffix(filepath.Base(key), ".enc") + ".blob"
	if err := os.Rename(tmp, filepath.Join(s.mediaDir, name)); err != nil {
		return "", fmt.Errorf("keep blob: %w", err)
	}
	if err := s.indexBlob(ctx, key, name, size, encSHA, mms); err != nil {
		return "", err
	}
	return direct, nil
}

func (s *Server) indexBlob(ctx context.Context, key, file string, size int64, encSHA []byte, mms string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO wasim_blobs (path, file, size, enc_sha256, mms_type, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		key, file, size, encSHA, mms, time.Now().Unix())
	if err != nil {
		return fmt.Errorf("wasim: index blob: %w", err)
	}
	return nil
}

// storeBlob is a simulated phone uploading an encrypted file.
func (s *Server) storeBlob(ctx context.Context, blob, encSHA []byte, mms string) (string, error) {
	f, err := os.CreateTemp(s.mediaDir, "upload-*")
	if err != nil {
		return "", fmt.Errorf("wasim: store blob: %w", err)
	}
	_, err = f.Write(blob)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("wasim: store blob: %w", err)
	}
	direct, err := s.keepBlob(ctx, f.Name(), int64(len(blob)), encSHA, mms)
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return direct, err
}

// blobKey turns a media URL or direct path into the index key.
func blobKey(urlOrPath string) string {
	if u, err := url.Parse(urlOrPath); err == nil {
		return u.Path
	}
	p, _, _ := strings.Cut(urlOrPath, "?")
	return p
}

type blobRow struct {
	file    string
	size    int64
	encSHA  []byte
	expired bool
}

func (s *Server) blob(ctx context.Context, key string) (blobRow, error) {
	var b blobRow
	err := s.db.QueryRowContext(ctx, `SELECT file, size, enc_sha256, expired FROM wasim_blobs WHERE path = ?`, key).
		Scan(&b.file, &b.size, &b.encSHA, &b.expired)
	return b, err
}

// serveDownload streams a blob, by its url or by its direct path with
// whatsmeow's "&hash=…&mms-type=…" appended; expired blobs are 404.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	b, err := s.blob(r.Context(), r.URL.Path)
	if errors.Is(err, sql.ErrNoRows) || err == nil && b.expired {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if h := r.URL.Query().Get("hash"); h != "" && h != base64.URLEncoding.EncodeToString(b.encSHA) {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.mediaDir, b.file))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, f)
}

// mediaMsg is what the simulator knows of a message's media: the phones
// keep the key of what they sent or decrypted, for a media retry.
type mediaMsg struct {
	key      string // blob index key of the current copy
	mediaKey []byte
	info     string // HKDF info of the media type
}

func (s *Server) rememberMedia(ctx context.Context, id string, m mediaMsg) {
	_, err := s.db.ExecContext(ctx, `INSERT INTO wasim_media_msgs (id, path, media_key, info) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET path = excluded.path, media_key = excluded.media_key, info = excluded.info`,
		id, m.key, m.mediaKey, m.info)
	if err != nil {
		s.log.Error("wasim: remember media", "err", err)
	}
}

func (s *Server) mediaOf(ctx context.Context, id string) (mediaMsg, error) {
	m := mediaMsg{}
	err := s.db.QueryRowContext(ctx, `SELECT path, media_key, info FROM wasim_media_msgs WHERE id = ?`, id).Scan(&m.key, &m.mediaKey, &m.info)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("%w: %s", ErrUnknownMessage, id)
	}
	return m, err
}

// ExpireMedia makes the CDN copy of a message's media (sent by a phone or
// by a linked device) answer 404, as WhatsApp's does after some weeks.
func (s *Server) ExpireMedia(messageID string) error {
	m, err := s.mediaOf(s.ctx, messageID)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(s.ctx, `UPDATE wasim_blobs SET expired = 1 WHERE file = (SELECT file FROM wasim_blobs WHERE path = ?)`, m.key)
	if err != nil {
		return fmt.Errorf("wasim: expire media: %w", err)
	}
	return nil
}

// reupload is the phone uploading a message's media again under a new
// direct path (media retry); the old path stays expired.
func (s *Server) reupload(ctx context.Context, id string, m mediaMsg) (string, error) {
	var file, mms string
	var size int64
	var encSHA []byte
	err := s.db.QueryRowContext(ctx, `SELECT file, size, enc_sha256, mms_type FROM wasim_blobs WHERE path = ?`, m.key).Scan(&file, &size, &encSHA, &mms)
	if err != nil {
		return "", fmt.Errorf("wasim: reupload %s: %w", id, err)
	}
	direct, key := newDirectPath()
	if err := s.indexBlob(ctx, key, file, size, encSHA, mms); err != nil {
		return "", err
	}
	m.key = key
	s.rememberMedia(ctx, id, m)
	return direct, nil
}

// UploadsRefused counts uploads refused for a bad hash or size.
func (s *Server) UploadsRefused() (n int) {
	s.read(func(o *observations) { n = o.uploadsRefused })
	return n
}

func hexSum(b []byte) string { return hex.EncodeToString(b) }
