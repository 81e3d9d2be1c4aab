// Package feed holds what both sides of the media benchmarks
// (bench/media/run.sh) share: the test files and the simulated contacts
// that send images through a wasim process's control API.
package feed

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/internal/mediatest"
	"github.com/meowgate/meowgate/wasim"
)

// JPEG is a real JPEG of about size bytes: a noise image (which does not
// compress) grown until it is large enough.
func JPEG(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	for side := 64; ; side += 16 {
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for y := range side {
			for x := range side {
				img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			panic(err)
		}
		if b.Len() >= size || side > 4096 {
			return b.Bytes()
		}
	}
}

// MP4File writes a valid MP4 (meowgate's media package probes it) with an
// mdat of mdat bytes to a file in dir and returns its path.
func MP4File(dir string, mdat int) (string, error) {
	f, err := os.CreateTemp(dir, "video-*.mp4")
	if err != nil {
		return "", err
	}
	defer f.Close()
	// ftyp + moov, then the mdat payload written in chunks (not held whole).
	head := mediatest.MP4Head(int64(mdat))
	if _, err := f.Write(head); err != nil {
		return "", err
	}
	chunk := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for left := mdat; left > 0; left -= len(chunk) {
		for i := 0; i < len(chunk); i += 8 {
			v := r.Uint64()
			for k := range 8 {
				chunk[i+k] = byte(v >> (8 * k))
			}
		}
		if _, err := f.Write(chunk[:min(left, len(chunk))]); err != nil {
			return "", err
		}
	}
	return f.Name(), f.Close()
}

// Contact is the phone number of simulated contact i of a run.
func Contact(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i+1) }

// Send has c contacts (numbers prefix0001…) send n copies of img to the
// account phone through the simulator at addr, each contact one after the
// other, and returns when the simulator accepted them all.
func Send(ctx context.Context, addr, prefix, to string, img []byte, n, c int) (first time.Time, took time.Duration, err error) {
	ctl := wasim.Remote(addr)
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	first = time.Now()
	for w := range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				_, err := ctl.Send(ctx, wasim.IncomingSpec{From: Contact(prefix, w), To: to, Type: "image", Data: img, Mimetype: "image/jpeg", Caption: "bench " + strconv.Itoa(i)})
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("wasim send %d: %w", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	return first, time.Since(first), firstErr
}

// RSS reads VmRSS and VmHWM (KiB) of a process ("self" for this one).
func RSS(pid string) (rss, hwm int64) {
	b, _ := os.ReadFile("/proc/" + pid + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// ResetHWM resets a process's VmHWM to its current RSS (Linux, needs
// ptrace access to it: the same user or root).
func ResetHWM(pid string) error {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0)
}

// Sampler records the largest VmRSS of pid, sampled every 5 ms, until
// stopped.
type Sampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func Sample(pid string) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r, _ := RSS(pid); r > s.peak.Load() {
				s.peak.Store(r)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak VmRSS in KiB.
func (s *Sampler) Stop() int64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

// PeakNow is the peak so far, without stopping.
func (s *Sampler) PeakNow() int64 { return s.peak.Load() }
