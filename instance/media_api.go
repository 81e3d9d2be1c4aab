package instance

import (
	"errors"
	"io"
	"time"
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
