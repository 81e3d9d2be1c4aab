// Package media stages the file of an outgoing media message on disk and
// probes what WhatsApp needs to send it (type, size, SHA-256, dimensions,
// duration, a voice note's waveform, a thumbnail).
//
// Choices:
//   - Streaming throughout. A source (a fetched URL, a base64 string or a
//     multipart upload) is copied through a fixed buffer into a temporary
//     file next to its destination, hashed on the way, fsynced and renamed;
//     probing then reads headers from the file. A 64 MiB video is never
//     held in memory (BenchmarkStage64MiB reports the allocations).
//   - The size limit is checked while reading: a URL's Content-Length is
//     refused before the body is read, and any source stops at limit+1
//     bytes. On any error nothing is left on disk.
//   - The bytes decide the type. The declared mimetype and a URL's
//     Content-Type must agree with the kind; for images, stickers and voice
//     notes a declared type that contradicts the bytes is an error, for
//     other audio and video the sniffed type wins, and documents take the
//     declared type, else the sniffed one, else the file name's extension.
//   - Voice notes need Ogg/Opus. We do not decode Opus in pure Go, so the
//     waveform WhatsApp draws is derived from the packet sizes: the
//     duration is cut into 64 slices and each slice's mean packet size
//     (Opus is VBR: louder speech takes larger packets) is scaled so the
//     loudest slice is 100. Quiet slices stay low, silence (DTX or tiny
//     packets) near 0, which is what the bar graph is for.
//   - Parsers (Ogg, ISO BMFF, WebP, MP3) read only the boxes and headers
//     they need, bound every length by the file size and never loop without
//     progress; fuzz targets hold them to that.
//
// Errors a client can fix are *InputError (the api answers 422 naming the
// field); any other error is the gateway's own (disk, context).
package media

import (
	"fmt"
	"strings"
)

// Kinds of media messages.
const (
	KindImage    = "image"
	KindVideo    = "video"
	KindAudio    = "audio"
	KindDocument = "document"
	KindSticker  = "sticker"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// MaxSize is the largest file accepted for a kind, 0 for an unknown kind.
func MaxSize(kind string) int64 {
	switch kind {
	case KindImage:
		// WhatsApp's help centre: photos, videos and voice messages up to
		// 16 MB; larger photos are to be sent as documents.
		return 16 * mib
	case KindAudio:
		// The same 16 MB media limit (Cloud API: audio 16 MB too).
		return 16 * mib
	case KindVideo:
		// A documented choice: the apps accept videos far above the old
		// 16 MB (files up to 2 GB since 2022) but re-encode them, and the
		// Cloud API refuses to download media over 100 MB (131052). 100 MiB
		// keeps a Pi's upload sane and allows a 64 MiB benchmark video;
		// larger files go as documents.
		return 100 * mib
	case KindSticker:
		// WhatsApp's sticker rules: static stickers ≤ 100 KB, animated
		// ≤ 500 KB; one limit for both, the larger.
		return 500 * kib
	case KindDocument:
		// WhatsApp: documents up to 2 GB.
		return 2 * gib
	}
	return 0
}

// allowed lists the content types accepted per kind (documents: any).
var allowed = map[string][]string{
	KindImage:   {"image/jpeg", "image/png"},
	KindVideo:   {"video/mp4", "video/3gpp"},
	KindAudio:   {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"},
	KindSticker: {"image/webp"},
}

func isAllowed(kind, mimetype string) bool {
	if kind == KindDocument {
		return true
	}
	for _, m := range allowed[kind] {
		if m == mimetype {
			return true
		}
	}
	return false
}

func allowedList(kind string) string {
	return strings.Join(allowed[kind], ", ")
}

// PTTMimetype is the content type WhatsApp gives voice notes.
const PTTMimetype = "audio/ogg; codecs=opus"

// Info is what Stage learnt about a staged file.
type Info struct {
	Mimetype string
	Size     int64
	SHA256   [32]byte
	// Width and Height of images, stickers and videos (from the MP4 track
	// header) when found.
	Width, Height uint32
	// Seconds of audio and video: Ogg/Opus exactly (last granule − pre-skip
	// at 48 kHz), MP4/M4A from the movie header, MP3 from its Xing header
	// or a constant bitrate, else 0.
	Seconds uint32
	// Waveform of a voice note: 64 values 0–100 (see the package comment).
	Waveform []byte
	// Animated is set for an animated WebP sticker.
	Animated bool
	// FileName is the document name: the client's, else the URL's
	// Content-Disposition or last path segment, else "file" plus an
	// extension for the type. Set for other kinds when known.
	FileName string
}

// InputError is bad input the client can fix: the api maps it to 422
// with Field ("url", "base64", "file", "mimetype", "ptt") and Msg.
type InputError struct{ Field, Msg string }

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

func inputErr(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// sizeText renders a byte count for messages ("16 MiB", "500 KiB").
func sizeText(n int64) string {
	switch {
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	case n >= kib:
		return fmt.Sprintf("%.1f KiB", float64(n)/kib)
	}
	return fmt.Sprintf("%d bytes", n)
}

func tooLarge(field, kind string, size int64) *InputError {
	what := "more than " + sizeText(MaxSize(kind))
	if size > 0 {
		what = fmt.Sprintf("%d bytes", size)
	}
	return inputErr(field, "the file is %s; a %s may be at most %s", what, kind, sizeText(MaxSize(kind)))
}
