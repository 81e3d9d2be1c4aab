package instance

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/meowgate/meowgate/event"
)

// Errors of edits, revokes and media downloads.
var (
	// ErrNotEditable: the message cannot be edited or revoked (received,
	// not a text, not sent yet, or past WhatsApp's edit window).
	ErrNotEditable = errors.New("message cannot be changed")
	// ErrNoMedia: the message has no file.
	ErrNoMedia = errors.New("message has no media")
)

// MediaFile is the file of a media message, open for reading.
type MediaFile struct {
	io.ReadSeekCloser
	Mimetype string
	FileName string
	Size     int64
	ModTime  time.Time
}

// EditMessage edits a sent text message (queued as an edit on the same
// paced queue) and returns the message with its new text.
func (m *Manager) EditMessage(ctx context.Context, idOrName, id, text string) (*event.Message, error) {
	return nil, errors.New("not implemented")
}

// RevokeMessage deletes a message: for everyone (a sent message, revoked
// on WhatsApp), or a queued one by canceling it.
func (m *Manager) RevokeMessage(ctx context.Context, idOrName, id string, forEveryone bool) (*event.Message, error) {
	return nil, errors.New("not implemented")
}

// OpenMedia opens the file of a media message, downloading it first if it
// is not kept here (and asking the phone to upload it again if WhatsApp's
// copy has expired). ErrMessageNotFound or ErrNoMedia when there is none.
func (m *Manager) OpenMedia(ctx context.Context, idOrName, id string) (*MediaFile, error) {
	return nil, errors.New("not implemented")
}
