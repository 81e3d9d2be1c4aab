package media

import (
	"encoding/binary"
	"errors"
	"io"
)

// ISO base media files (MP4, 3GP, M4A): the movie header's duration and
// the first visual track's size, read box by box with ReadAt so a video's
// media data is never read.

var (
	errNotMP4  = errors.New("not an MP4 file (no ftyp box first)")
	errNoMoov  = errors.New("the MP4 file has no moov box: it is cut off or not a complete video")
	errTooMany = errors.New("too many boxes")
)

// maxBoxes bounds the boxes visited at one level, against files made of
// millions of empty boxes.
const maxBoxes = 10000

type mp4Info struct {
	seconds       uint32
	width, height uint32
}

// box is one box's type and payload extent.
type box struct {
	typ        string
	start, end int64 // payload
}

// eachBox calls fn for the boxes between start and end; fn returns false
// to stop. A box running past end is cut at end.
func eachBox(r io.ReaderAt, start, end int64, fn func(b box) (bool, error)) error {
	var h [16]byte
	for i, off := 0, start; off+8 <= end; i++ {
		if i == maxBoxes {
			return errTooMany
		}
		if _, err := r.ReadAt(h[:8], off); err != nil {
			return err
		}
		size := int64(binary.BigEndian.Uint32(h[:4]))
		hl := int64(8)
		switch size {
		case 0: // to the end
			size = end - off
		case 1: // 64-bit size follows
			if off+16 > end {
				return nil
			}
			if _, err := r.ReadAt(h[8:16], off+8); err != nil {
				return err
			}
			u := binary.BigEndian.Uint64(h[8:16])
			if u > uint64(end-off) {
				u = uint64(end - off)
			}
			size, hl = int64(u), 16
		}
		if size < hl {
			return nil // a corrupt size: nothing further is trustworthy
		}
		b := box{typ: string(h[4:8]), start: off + hl, end: min(off+size, end)}
		more, err := fn(b)
		if err != nil || !more {
			return err
		}
		off += size
	}
	return nil
}

// probeMP4 reads the movie header and track headers of an MP4 of size
// bytes.
func probeMP4(r io.ReaderAt, size int64) (*mp4Info, error) {
	var h [8]byte
	if _, err := r.ReadAt(h[:], 0); err != nil || string(h[4:8]) != "ftyp" {
		return nil, errNotMP4
	}
	info := &mp4Info{}
	found := false
	err := eachBox(r, 0, size, func(b box) (bool, error) {
		if b.typ != "moov" {
			return true, nil
		}
		found = true
		return false, eachBox(r, b.start, b.end, func(c box) (bool, error) {
			switch c.typ {
			case "mvhd":
				info.seconds = parseMvhd(r, c)
			case "trak":
				if info.width != 0 {
					return true, nil
				}
				return true, eachBox(r, c.start, c.end, func(t box) (bool, error) {
					if t.typ == "tkhd" {
						info.width, info.height = parseTkhd(r, t)
						return false, nil
					}
					return true, nil
				})
			}
			return true, nil
		})
	})
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !found {
		return nil, errNoMoov
	}
	return info, nil
}

// readPayload reads up to n bytes of a box's payload into buf.
func readPayload(r io.ReaderAt, b box, buf []byte) []byte {
	n := int64(len(buf))
	if b.end-b.start < n {
		n = b.end - b.start
	}
	got, _ := r.ReadAt(buf[:n], b.start)
	return buf[:got]
}

func parseMvhd(r io.ReaderAt, b box) uint32 {
	var buf [32]byte
	p := readPayload(r, b, buf[:])
	var scale, dur uint64
	switch {
	case len(p) >= 20 && p[0] == 0:
		scale = uint64(binary.BigEndian.Uint32(p[12:16]))
		dur = uint64(binary.BigEndian.Uint32(p[16:20]))
		if dur == 0xFFFFFFFF {
			dur = 0
		}
	case len(p) >= 32 && p[0] == 1:
		scale = uint64(binary.BigEndian.Uint32(p[20:24]))
		dur = binary.BigEndian.Uint64(p[24:32])
		if dur == ^uint64(0) {
			dur = 0
		}
	}
	if scale == 0 {
		return 0
	}
	s := dur/scale + (dur%scale*2)/scale // rounded
	if s > 0xFFFFFFFF {
		return 0
	}
	return uint32(s)
}

// parseTkhd returns a track's presentation size, swapped when its matrix
// rotates by 90 or 270 degrees (phones record portrait video that way).
func parseTkhd(r io.ReaderAt, b box) (w, h uint32) {
	var buf [96]byte
	p := readPayload(r, b, buf[:])
	var m int // offset of the matrix
	switch {
	case len(p) >= 84 && p[0] == 0:
		m = 40
	case len(p) >= 96 && p[0] == 1:
		m = 52
	default:
		return 0, 0
	}
	w = binary.BigEndian.Uint32(p[m+36:]) >> 16
	h = binary.BigEndian.Uint32(p[m+40:]) >> 16
	a := binary.BigEndian.Uint32(p[m:])
	bb := binary.BigEndian.Uint32(p[m+4:])
	if a == 0 && bb != 0 {
		w, h = h, w
	}
	return w, h
}
