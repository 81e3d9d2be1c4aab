package media

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Source is where a file comes from: exactly one of URL, Base64 and
// Reader.
type Source struct {
	URL      string    // http or https, fetched
	Base64   string    // standard or URL-safe, padded or not; may start "data:<mime>;base64,"
	Reader   io.Reader // a multipart upload
	FileName string    // a hint for the type (extension) and the document name
	Mimetype string    // declared by the client; "" = sniff
}

// copyBuf is the staging copy's buffer size.
const copyBuf = 64 * kib

// Stage writes src to path and probes it: through a temporary file in the
// same directory, fsynced and renamed, so on any error nothing is left.
// The size limit of the kind is checked while streaming (reading stops at
// limit+1 bytes), the type is sniffed and checked against the kind and the
// declared type. Bad input is an *InputError.
func (f *Fetcher) Stage(ctx context.Context, kind string, ptt bool, src Source, path string) (*Info, error) {
	limit := MaxSize(kind)
	if limit == 0 {
		return nil, inputErr("type", "unknown media type %q", kind)
	}
	if ptt && kind != KindAudio {
		return nil, inputErr("ptt", "ptt (a voice note) is only for audio")
	}
	declared, err := declaredType(kind, src.Mimetype)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{src.URL != "", src.Base64 != "", src.Reader != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, inputErr("url", "give one of url, base64 or a file")
	case n > 1:
		return nil, inputErr("url", "give only one of url, base64 or a file")
	}

	st := staging{kind: kind, ptt: ptt, declared: declared, fileName: cleanName(src.FileName)}
	var r io.Reader
	var fetch *fetched
	switch {
	case src.URL != "":
		st.field = "url"
		fetch, err = f.open(ctx, kind, src.URL)
		if err != nil {
			return nil, err
		}
		defer fetch.Close()
		r, st.served = fetch.body, fetch.served
		if st.fileName == "" {
			st.fileName = fetch.fileName
		}
	case src.Base64 != "":
		st.field = "base64"
		var dataType string
		r, dataType, err = base64Reader(src.Base64)
		if err != nil {
			return nil, err
		}
		if dataType != "" {
			if declared != "" && declared != dataType {
				return nil, inputErr("mimetype", "mimetype %s contradicts the data URL's %s", declared, dataType)
			}
			if st.declared, err = declaredType(kind, dataType); err != nil {
				return nil, err
			}
		}
	default:
		st.field = "file"
		r = src.Reader
	}

	sr := &sourceReader{ctx: ctx, r: r}
	info, err := st.write(sr, limit, path)
	if err != nil && sr.err != nil && errors.Is(err, sr.err) {
		err = st.readErr(ctx, f, fetch, sr.err)
	}
	return info, err
}

// declaredType checks a declared mimetype against the kind; "" if none.
func declaredType(kind, m string) (string, error) {
	if strings.TrimSpace(m) == "" {
		return "", nil
	}
	t := normalizeMime(m)
	if t == "" {
		return "", inputErr("mimetype", "%q is not a content type (like image/jpeg)", m)
	}
	if !isAllowed(kind, t) {
		return "", inputErr("mimetype", "%s is not allowed for %s; use %s", t, kind, allowedList(kind))
	}
	return t, nil
}

// staging is one Stage call's state.
type staging struct {
	kind     string
	ptt      bool
	field    string // the source's field, for errors about its content
	declared string // the client's type, normalized
	served   string // a URL's Content-Type, normalized
	fileName string
}

// write copies r (at most limit+1 bytes) into a temporary file beside
// path, probes it and renames it to path.
func (st *staging) write(r io.Reader, limit int64, path string) (info *Info, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("media: staging: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Sources return small pieces (a base64 decoder 768 bytes a read, the
	// network a packet): batch the file writes.
	h := sha256.New()
	bw := bufio.NewWriterSize(tmp, copyBuf)
	buf := make([]byte, copyBuf/2)
	size, err := io.CopyBuffer(io.MultiWriter(bw, h), io.LimitReader(r, limit+1), buf)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("media: staging: %w", err)
	}
	if size > limit {
		return nil, tooLarge(st.field, st.kind, 0)
	}
	if size == 0 {
		return nil, inputErr(st.field, "the file is empty")
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("media: staging: %w", err)
	}
	info, err = st.probe(tmp, size)
	if err != nil {
		return nil, err
	}
	info.Size = size
	h.Sum(info.SHA256[:0])
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("media: staging: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("media: staging: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // the rename is durable before the message is queued
		d.Close()
	}
	return info, nil
}

// readErr explains an error reading the source.
func (st *staging) readErr(ctx context.Context, f *Fetcher, fetch *fetched, err error) error {
	var corrupt base64.CorruptInputError
	var tooBig *http.MaxBytesError
	switch {
	case fetch != nil:
		return fetchErr(ctx, err, fetch.host, f.timeout(), true)
	case errors.As(err, &corrupt):
		return inputErr("base64", "not valid base64: bad character at offset %d", int64(corrupt))
	case errors.As(err, &tooBig):
		return tooLarge(st.field, st.kind, 0)
	case ctx.Err() != nil:
		return fmt.Errorf("media: staging: %w", ctx.Err())
	}
	return fmt.Errorf("media: reading the %s: %w", st.field, err)
}

// sourceReader stops at the context's end and keeps the source's own
// error, to tell it from a write error.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// base64Reader decodes a base64 string as a stream: standard or URL-safe
// alphabet, padded or not, whitespace ignored, after an optional
// "data:<mime>;base64," prefix whose type it returns.
func base64Reader(s string) (io.Reader, string, error) {
	dataType := ""
	if len(s) >= 5 && strings.EqualFold(s[:5], "data:") {
		comma := strings.IndexByte(s[:min(len(s), 512)], ',')
		if comma < 0 {
			return nil, "", inputErr("base64", "a data: URL needs a comma before the data")
		}
		meta := s[5:comma]
		if len(meta) < 7 || !strings.EqualFold(meta[len(meta)-7:], ";base64") {
			return nil, "", inputErr("base64", "only base64 data: URLs are accepted (data:<type>;base64,…)")
		}
		if t := meta[:len(meta)-7]; t != "" {
			if dataType = normalizeMime(t); dataType == "" {
				return nil, "", inputErr("base64", "the data: URL's type %q is not a content type", t)
			}
		}
		s = s[comma+1:]
	}
	s = strings.TrimRight(s, "= \t\r\n")
	if s == "" {
		return nil, "", inputErr("base64", "no data")
	}
	return base64.NewDecoder(base64.RawStdEncoding, &b64Alphabet{r: strings.NewReader(s)}), dataType, nil
}

// b64Alphabet maps the URL-safe alphabet to the standard one and drops
// whitespace, in place.
type b64Alphabet struct{ r io.Reader }

func (a *b64Alphabet) Read(p []byte) (int, error) {
	for {
		n, err := a.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '-':
				c = '+'
			case '_':
				c = '/'
			}
			p[j] = c
			j++
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
