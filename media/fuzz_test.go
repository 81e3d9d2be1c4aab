package media

import (
	"github.com/meowgate/meowgate/internal/mediatest"

	"bytes"
	"testing"
)

// The parsers read hostile files: they must neither panic nor loop, and
// their results must stay within what the input can hold.

func FuzzOgg(f *testing.F) {
	f.Add(mediatest.Opus(312, []int{10, 200, 30, 400, 5}))
	f.Add(mediatest.Vorbis())
	f.Add(mediatest.OggPage(2, -1, 1, 0, bytes.Repeat([]byte{0xFF}, 600)))
	f.Add([]byte("OggS\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := probeOgg(bytes.NewReader(data))
		if err != nil {
			return
		}
		if info.packets > len(data) {
			t.Fatalf("%d packets in %d bytes", info.packets, len(data))
		}
		wave, err := oggWaveform(bytes.NewReader(data), info)
		if err != nil {
			t.Fatalf("second pass failed after the first passed: %v", err)
		}
		if len(wave) != WaveformLen {
			t.Fatalf("waveform of %d values", len(wave))
		}
		for i, v := range wave {
			if v > 100 {
				t.Fatalf("waveform[%d] = %d", i, v)
			}
		}
		info.seconds()
	})
}

func FuzzMP4(f *testing.F) {
	f.Add(mediatest.MP4("isom", 1280, 720, 600, 6000, false, 16))
	f.Add(mediatest.MP4("M4A ", 0, 0, 44100, 44100, true, 0))
	f.Add(append(mediatest.MP4Box("ftyp", []byte("isom")), "\x00\x00\x00\x01moov\xff\xff\xff\xff\xff\xff\xff\xff"...))
	f.Add(append(mediatest.MP4Box("ftyp", []byte("isom")), "\x00\x00\x00\x00moov"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		probeMP4(bytes.NewReader(data), int64(len(data)))
	})
}

func FuzzWebP(f *testing.F) {
	f.Add(mediatest.WebPVP8(512, 512))
	f.Add(mediatest.WebPVP8L(300, 200))
	f.Add(mediatest.WebPVP8X(512, 480, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := probeWebP(data)
		if err == nil && (w.width > 1<<24 || w.height > 1<<24) {
			t.Fatalf("%dx%d beyond WebP's 24-bit sizes", w.width, w.height)
		}
	})
}

func FuzzMP3(f *testing.F) {
	f.Add(mediatest.MP3(3))
	f.Add([]byte("ID3\x04\x00\x10\x7f\x7f\x7f\x7f\xff\xfb\x90\x64"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mp3Seconds(bytes.NewReader(data), int64(len(data)))
		if len(data) > 0 {
			sniff(data)
		}
	})
}
