package media

import (
	"github.com/meowgate/meowgate/internal/mediatest"

	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// mp4Stream is an MP4 of n bytes produced on the fly: a real header, then
// zeros, never held in memory.
type mp4Stream struct {
	head []byte
	off  int64
	n    int64
}

func newMP4Stream(n int64) *mp4Stream {
	return &mp4Stream{head: mediatest.MP4Head(n - int64(len(mediatest.MP4Head(0)))), n: n}
}

func (s *mp4Stream) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.off)]
	k := 0
	if s.off < int64(len(s.head)) {
		k = copy(p, s.head[s.off:])
	}
	clear(p[k:])
	s.off += int64(len(p))
	return len(p), nil
}

// TestStageStreams: staging a 32 MiB video allocates well under 1 MiB.
func TestStageStreams(t *testing.T) {
	const size = 32 << 20
	dir := t.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	info, err := (&Fetcher{}).Stage(context.Background(), KindVideo, false, Source{Reader: newMP4Stream(size)}, filepath.Join(dir, "v"))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size || info.Width != 640 || info.Seconds != 5 {
		t.Fatalf("info %+v", info)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("staging %d MiB allocated %d bytes: not streaming", size>>20, alloc)
	} else {
		t.Logf("staging %d MiB allocated %d bytes", size>>20, alloc)
	}
}

// BenchmarkStage64MiB stages a 64 MiB video from a reader and from
// base64; B/op shows the staging is streamed (the base64 string itself is
// built once, outside the timer).
func BenchmarkStage64MiB(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	path := filepath.Join(dir, "v")
	b.Run("reader", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			if _, err := (&Fetcher{}).Stage(context.Background(), KindVideo, false, Source{Reader: newMP4Stream(size)}, path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("base64", func(b *testing.B) {
		enc, err := encodeStream(newMP4Stream(size))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(size)
		b.ResetTimer()
		for b.Loop() {
			if _, err := (&Fetcher{}).Stage(context.Background(), KindVideo, false, Source{Base64: enc}, path); err != nil {
				b.Fatal(err)
			}
		}
	})
	os.Remove(path)
}

func encodeStream(r io.Reader) (string, error) {
	var sb stringsBuilder
	w := base64.NewEncoder(base64.StdEncoding, &sb)
	if _, err := io.Copy(w, r); err != nil {
		return "", err
	}
	w.Close()
	return string(sb), nil
}

type stringsBuilder []byte

func (s *stringsBuilder) Write(p []byte) (int, error) { *s = append(*s, p...); return len(p), nil }
