package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/meowgate/meowgate/client"
)

// sendFile is the file of `meowgate send --file`, with the message type
// it goes as. r starts at the file's first byte: the bytes looked at to
// guess the type are buffered, not consumed, so stdin works too.
type sendFile struct {
	name  string
	kind  string
	r     io.Reader
	close func() error
}

func (f *sendFile) Close() error { return f.close() }

// openSendFile opens path ("-" is stdin) and settles its type: typ if
// given, audio for a voice note, else guessed from its first bytes, then
// its extension.
func openSendFile(path, typ string, ptt bool) (*sendFile, error) {
	if typ != "" && !isFileType(typ) {
		return nil, fmt.Errorf("--type for a file must be image, video, audio, document or sticker, not %q", typ)
	}
	if ptt && typ != "" && typ != client.MsgAudio {
		return nil, fmt.Errorf("--ptt sends audio, not %s", typ)
	}
	f := &sendFile{name: filepath.Base(path), close: func() error { return nil }}
	var src io.Reader
	if path == "-" {
		f.name, src = "stdin", os.Stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if fi, err := fh.Stat(); err == nil && fi.IsDir() {
			fh.Close()
			return nil, fmt.Errorf("%s is a directory", path)
		}
		src, f.close = fh, fh.Close
	}
	br := bufio.NewReaderSize(src, 4096)
	f.r = br
	switch {
	case typ != "":
		f.kind = typ
	case ptt:
		f.kind = client.MsgAudio
	default:
		head, err := br.Peek(512)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			f.Close()
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		f.kind = guessKind(head, f.name)
	}
	return f, nil
}

func isFileType(t string) bool {
	switch t {
	case client.MsgImage, client.MsgVideo, client.MsgAudio, client.MsgDocument, client.MsgSticker:
		return true
	}
	return false
}

// guessKind names the message type a file goes as: by its content for the
// formats WhatsApp shows as more than a document, then by its extension;
// anything else is a document. (The server sniffs the exact content type
// and refuses a file that does not fit its type.)
func guessKind(head []byte, name string) string {
	switch {
	case bytes.HasPrefix(head, []byte("\xFF\xD8\xFF")), bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return client.MsgImage
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return client.MsgSticker // WhatsApp takes WebP only as a sticker
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		if b := string(head[8:12]); b == "M4A " || b == "M4B " {
			return client.MsgAudio
		}
		return client.MsgVideo
	case bytes.HasPrefix(head, []byte("OggS")), bytes.HasPrefix(head, []byte("ID3")), bytes.HasPrefix(head, []byte("#!AMR")):
		return client.MsgAudio
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return client.MsgImage
	case ".webp":
		return client.MsgSticker
	case ".mp4", ".3gp":
		return client.MsgVideo
	case ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".amr":
		return client.MsgAudio
	}
	return client.MsgDocument
}

// parseLatLon reads --lat and --lon.
func parseLatLon(lat, lon string) (float64, float64, error) {
	if lat == "" || lon == "" {
		return 0, 0, errors.New("--type location needs --lat and --lon")
	}
	la, err := strconv.ParseFloat(lat, 64)
	if err != nil || math.IsNaN(la) || la < -90 || la > 90 {
		return 0, 0, fmt.Errorf("--lat must be a latitude in degrees (-90 to 90), not %q", lat)
	}
	lo, err := strconv.ParseFloat(lon, 64)
	if err != nil || math.IsNaN(lo) || lo < -180 || lo > 180 {
		return 0, 0, fmt.Errorf("--lon must be a longitude in degrees (-180 to 180), not %q", lon)
	}
	return la, lo, nil
}
