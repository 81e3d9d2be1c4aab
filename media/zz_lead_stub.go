// Package media: temporary stand-in with the agreed API (replaced by the
// media-kit branch).
package media

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func MaxSize(kind string) int64 { return 100 << 20 }

type Source struct {
	URL, Base64 string
	Reader      io.Reader
	FileName    string
	Mimetype    string
}

type Fetcher struct {
	Client  *http.Client
	Timeout time.Duration
}

type Info struct {
	Mimetype      string
	Size          int64
	SHA256        [32]byte
	Width, Height uint32
	Seconds       uint32
	Waveform      []byte
	Animated      bool
	FileName      string
}

type InputError struct{ Field, Msg string }

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

func (f *Fetcher) Stage(ctx context.Context, kind string, ptt bool, src Source, path string) (*Info, error) {
	var r io.Reader
	switch {
	case src.Reader != nil:
		r = src.Reader
	case src.Base64 != "":
		r = base64.NewDecoder(base64.StdEncoding, strings.NewReader(src.Base64))
	default:
		return nil, &InputError{"url", "stub"}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if err != nil {
		os.Remove(path)
		return nil, &InputError{"base64", err.Error()}
	}
	info := &Info{Mimetype: src.Mimetype, Size: n, FileName: src.FileName}
	copy(info.SHA256[:], h.Sum(nil))
	if info.Mimetype == "" {
		info.Mimetype = "application/octet-stream"
	}
	return info, nil
}

func Thumbnail(path, mimetype string) ([]byte, error) { return nil, nil }
