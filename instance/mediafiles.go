package instance

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/media"
	"github.com/meowgate/meowgate/store"
)

// Media files live under MediaOptions.Dir, one directory per instance id,
// each named by its message id: an outgoing file from enqueue until it is
// sent (then kept for the retention), an incoming one once downloaded.
// The database never holds a file's bytes.

// sweepGrace protects a file being staged right now (its row is not yet
// committed) and a download in progress from the sweep.
const sweepGrace = 10 * time.Minute

func (m *Manager) mediaDir() string {
	if m.opts.Media.Dir != "" {
		return m.opts.Media.Dir
	}
	return filepath.Join(filepath.Dir(m.store.Path()), "media")
}

// fileName makes a message id safe as a file name (ids are chosen by the
// sending device; ours and WhatsApp's are plain, others are hex-encoded).
func fileName(id string) string {
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "x" + hex.EncodeToString([]byte(id))
		}
	}
	return id
}

func (m *Manager) mediaPath(instanceID, id string) string {
	return filepath.Join(m.mediaDir(), instanceID, fileName(id))
}

func (m *Manager) hasMedia(instanceID, id string) bool {
	_, err := os.Stat(m.mediaPath(instanceID, id))
	return err == nil
}

func (m *Manager) removeMedia(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("cannot remove media file", "path", path, "err", err)
	}
}

// stageMedia writes the file of a message being enqueued to its place and
// fills in what the media package found; bad input is a ValidationError.
func (m *Manager) stageMedia(ctx context.Context, instanceID, id string, p *SendParams, md *event.Media, ref *mediaRef) (string, error) {
	f := media.Fetcher{Client: m.opts.Media.FetchClient, Timeout: m.opts.Media.FetchTimeout}
	src := media.Source{URL: p.URL, Base64: p.Base64, Reader: p.File, FileName: p.FileName, Mimetype: p.Mimetype}
	path := m.mediaPath(instanceID, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("instance: media directory: %w", err)
	}
	info, err := f.Stage(ctx, p.Type, p.PTT, src, path)
	var ie *media.InputError
	if errors.As(err, &ie) {
		return "", invalid(ie.Field, ie.Msg)
	} else if err != nil {
		return "", fmt.Errorf("instance: stage media: %w", err)
	}
	md.Mimetype, md.Size, md.SHA256 = info.Mimetype, info.Size, hex.EncodeToString(info.SHA256[:])
	md.Width, md.Height, md.Seconds = info.Width, info.Height, info.Seconds
	if p.Type == event.MsgDocument {
		md.FileName = info.FileName
		if p.FileName != "" {
			md.FileName = p.FileName
		}
		if md.FileName == "" {
			md.FileName = "document"
		}
	}
	ref.Waveform, ref.Animated = info.Waveform, info.Animated
	return path, nil
}

// OpenMedia opens the file of a media message, downloading it first if it
// is not kept here (and asking the phone to upload it again if WhatsApp's
// copy has expired). ErrMessageNotFound or ErrNoMedia when there is none.
func (m *Manager) OpenMedia(ctx context.Context, idOrName, id string) (*MediaFile, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	msg, err := m.store.GetMessage(ctx, inst.id, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrMessageNotFound
	} else if err != nil {
		return nil, err
	}
	v := viewMessage(inst.name(), msg)
	if v.Media == nil {
		return nil, ErrNoMedia
	}
	path := m.mediaPath(inst.id, msg.ID)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if msg.Direction != "in" || len(msg.MediaRef) == 0 {
			return nil, fmt.Errorf("%w: the file of this message is no longer kept", ErrNoMedia)
		}
		if err := inst.download(ctx, msg); err != nil {
			return nil, err
		}
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("instance: open media: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	name := v.Media.FileName
	if name == "" {
		name = msg.ID + extension(v.Media.Mimetype)
	}
	return &MediaFile{ReadSeekCloser: f, Mimetype: v.Media.Mimetype, FileName: name, Size: st.Size(), ModTime: st.ModTime()}, nil
}

func extension(mimetype string) string {
	switch strings.SplitN(mimetype, ";", 2)[0] {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "video/mp4":
		return ".mp4"
	case "audio/ogg":
		return ".ogg"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4":
		return ".m4a"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

// sweepMedia removes files nobody needs: a staged file whose message never
// got committed or ended unsent (failed, expired, canceled), and, with a
// retention, files of messages older than it that are not waiting to be
// sent. Files younger than sweepGrace are left alone.
func (m *Manager) sweepMedia(ctx context.Context, keep time.Duration) (removed int) {
	root := m.mediaDir()
	dirs, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	now := time.Now()
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		instanceID := d.Name()
		files, err := os.ReadDir(filepath.Join(root, instanceID))
		if err != nil {
			continue
		}
		known := m.hasInstance(instanceID)
		for _, f := range files {
			info, err := f.Info()
			if err != nil || info.IsDir() {
				continue
			}
			young := now.Sub(info.ModTime()) < sweepGrace
			path := filepath.Join(root, instanceID, f.Name())
			drop := (!known || strings.HasPrefix(f.Name(), ".")) && !young
			if known && !strings.HasPrefix(f.Name(), ".") {
				msg, err := m.store.GetMessage(ctx, instanceID, idOfFile(f.Name()))
				switch {
				case errors.Is(err, store.ErrNotFound):
					drop = !young // maybe staged for a row not yet committed
				case err != nil:
					continue
				case msg.Status == event.StatusFailed || msg.Status == event.StatusExpired || msg.Status == event.StatusCanceled:
					drop = true
				case msg.Status == event.StatusQueued || msg.Status == event.StatusSending:
				case keep > 0 && now.Sub(msg.CreatedAt) > keep:
					drop = true
				}
			}
			if drop {
				m.removeMedia(path)
				removed++
			}
		}
	}
	return removed
}

// sweepTemp removes the temporary files (".upload-*", ".dl-*", the media
// package's ".stage-*") a crash left; it runs before any instance starts,
// when nothing can be staging or downloading.
func (m *Manager) sweepTemp() {
	dirs, _ := os.ReadDir(m.mediaDir())
	for _, d := range dirs {
		files, _ := os.ReadDir(filepath.Join(m.mediaDir(), d.Name()))
		for _, f := range files {
			if strings.HasPrefix(f.Name(), ".") {
				m.removeMedia(filepath.Join(m.mediaDir(), d.Name(), f.Name()))
			}
		}
	}
}

func idOfFile(name string) string {
	if strings.HasPrefix(name, "x") {
		if b, err := hex.DecodeString(name[1:]); err == nil {
			return string(b)
		}
	}
	return name
}

// hasInstance reports whether an instance with that id exists.
func (m *Manager) hasInstance(id string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.byID[id]
	return ok
}

// runMediaSweep sweeps at start and then hourly until the manager closes.
func (m *Manager) runMediaSweep() {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n := m.sweepMedia(m.ctx, m.opts.Media.Retention); n > 0 {
			m.log.Info("media files removed", "count", n)
		}
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
	}
}
