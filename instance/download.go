package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Received files are downloaded to the media directory, streamed and
// verified by whatsmeow (encrypted hash, MAC, plain hash, length) into a
// temporary file that is renamed into place only when all checks pass.
// An expired CDN copy (404/410) is asked again from the sender's phone by
// a media retry receipt, which answers with a new direct path.

const (
	maxDownloads      = 4 // concurrent downloads per Manager
	mediaRetryWait    = 30 * time.Second
	autoDownloadLimit = 10 * time.Minute
)

// downloads runs at most maxDownloads at once and one per message.
type downloads struct {
	slots   chan struct{}
	mu      sync.Mutex
	running map[string]*dlCall
	retries map[string]chan *events.MediaRetry // by instance id + message id
}

type dlCall struct {
	done chan struct{}
	err  error
}

func (d *downloads) init() {
	d.mu.Lock()
	if d.slots == nil {
		d.slots = make(chan struct{}, maxDownloads)
		d.running = map[string]*dlCall{}
		d.retries = map[string]chan *events.MediaRetry{}
	}
	d.mu.Unlock()
}

// autoDownload fetches a received file in the background (auto_download).
func (i *instance) autoDownload(cli *whatsmeow.Client, m *store.Message) {
	i.m.track(i.calls, func() {
		ctx, cancel := context.WithTimeout(i.m.ctx, autoDownloadLimit)
		defer cancel()
		if err := i.fetchMedia(ctx, cli, m); err != nil && ctx.Err() == nil {
			i.log.Warn("cannot download received media; GET …/media tries again", "id", m.ID, "err", err)
		}
	})
}

// download fetches a received file now, for OpenMedia.
func (i *instance) download(ctx context.Context, m *store.Message) error {
	cli, err := i.liveClient(ctx)
	if err != nil {
		return fmt.Errorf("the file is not kept here and downloading it needs a connected instance: %w", err)
	}
	return i.fetchMedia(ctx, cli, m)
}

// fetchMedia downloads m's file once, even when asked concurrently.
func (i *instance) fetchMedia(ctx context.Context, cli *whatsmeow.Client, m *store.Message) error {
	d := &i.m.dl
	d.init()
	key := i.id + "/" + m.ID
	d.mu.Lock()
	if c, ok := d.running[key]; ok {
		d.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := &dlCall{done: make(chan struct{})}
	d.running[key] = c
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.running, key)
		d.mu.Unlock()
		close(c.done)
	}()
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		c.err = ctx.Err()
		return c.err
	}
	defer func() { <-d.slots }()
	c.err = i.downloadTo(ctx, cli, m)
	return c.err
}

func (i *instance) downloadTo(ctx context.Context, cli *whatsmeow.Client, m *store.Message) error {
	path := i.m.mediaPath(i.id, m.ID)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var ref mediaRef
	if err := json.Unmarshal(m.MediaRef, &ref); len(m.MediaRef) == 0 || err != nil || (ref.DirectPath == "" && ref.URL == "") {
		return fmt.Errorf("%w: no download reference", ErrNoMedia)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	err := i.downloadOnce(ctx, cli, m.Type, &ref, path)
	if errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) || errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410) {
		i.log.Info("media expired on WhatsApp's servers; asking the sender's phone for it again", "id", m.ID)
		if err = i.mediaRetry(ctx, cli, m, &ref); err != nil {
			return fmt.Errorf("the file expired on WhatsApp's servers and the phone could not send it again: %w", err)
		}
		err = i.downloadOnce(ctx, cli, m.Type, &ref, path)
	}
	return err
}

// downloadOnce streams the file into a temporary file and renames it into
// place once whatsmeow verified it.
func (i *instance) downloadOnce(ctx context.Context, cli *whatsmeow.Client, typ string, ref *mediaRef, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dl-*")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := cli.DownloadToFile(ctx, downloadable(typ, ref), tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// downloadable is the proto whatsmeow downloads from: the type picks the
// keys, the fields come from the stored reference.
func downloadable(typ string, r *mediaRef) whatsmeow.DownloadableMessage {
	url := optString(r.URL)
	dp := optString(r.DirectPath)
	n := proto.Uint64(r.FileLength)
	switch typ {
	case event.MsgImage:
		return &waE2E.ImageMessage{URL: url, DirectPath: dp, MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: n}
	case event.MsgVideo:
		return &waE2E.VideoMessage{URL: url, DirectPath: dp, MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: n}
	case event.MsgAudio:
		return &waE2E.AudioMessage{URL: url, DirectPath: dp, MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: n}
	case event.MsgSticker:
		return &waE2E.StickerMessage{URL: url, DirectPath: dp, MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: n}
	default:
		return &waE2E.DocumentMessage{URL: url, DirectPath: dp, MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: n}
	}
}

// mediaRetry asks the sender's phone to upload the file again and points
// ref (and the stored row) at the new copy.
func (i *instance) mediaRetry(ctx context.Context, cli *whatsmeow.Client, m *store.Message, ref *mediaRef) error {
	chat, err := types.ParseJID(m.Chat)
	if err != nil {
		return err
	}
	sender, _ := types.ParseJID(m.Sender)
	info := &types.MessageInfo{ID: m.ID, MessageSource: types.MessageSource{
		Chat: chat, Sender: sender, IsFromMe: m.Direction == "out", IsGroup: chat.Server == types.GroupServer,
	}}
	d := &i.m.dl
	key := i.id + "/" + m.ID
	ch := make(chan *events.MediaRetry, 1)
	d.mu.Lock()
	d.retries[key] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.retries, key)
		d.mu.Unlock()
	}()
	if err := cli.SendMediaRetryReceipt(ctx, info, ref.MediaKey); err != nil {
		return fmt.Errorf("send media retry receipt: %w", err)
	}
	var evt *events.MediaRetry
	select {
	case evt = <-ch:
	case <-time.After(mediaRetryWait):
		return fmt.Errorf("no answer from the phone within %v", mediaRetryWait)
	case <-ctx.Done():
		return ctx.Err()
	}
	notif, err := whatsmeow.DecryptMediaRetryNotification(evt, ref.MediaKey)
	if err != nil {
		return err
	}
	if notif.GetDirectPath() == "" {
		return fmt.Errorf("the phone answered %s", notif.GetResult())
	}
	ref.DirectPath, ref.URL = notif.GetDirectPath(), ""
	_, err = i.m.store.ChangeMessage(ctx, i.id, m.ID, func(t *store.Message) ([]store.Event, error) {
		if t != nil {
			t.MediaRef = marshalOrNil(*ref)
		}
		return nil, nil
	})
	return err
}

// onMediaRetry hands a phone's answer to the download waiting for it.
func (m *Manager) onMediaRetry(instanceID string, e *events.MediaRetry) {
	d := &m.dl
	d.init()
	d.mu.Lock()
	ch := d.retries[instanceID+"/"+e.MessageID]
	d.mu.Unlock()
	if ch != nil {
		select {
		case ch <- e:
		default:
		}
	}
}
