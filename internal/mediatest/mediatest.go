// Package mediatest makes small, valid media files (JPEG, PNG, Ogg/Opus,
// Ogg/Vorbis, MP4, WebP, MP3) for tests of every package.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// Real files, built the way encoders lay them out.

func Image(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

func JPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Image(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, Image(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// oggCRC is the Ogg page checksum (polynomial 0x04c11db7, unreflected).
func oggCRC(p []byte) uint32 {
	var crc uint32
	for _, b := range p {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// OggPage lays out one page holding whole packets.
func OggPage(headerType byte, granule int64, serial, seq uint32, packets ...[]byte) []byte {
	var lacing []byte
	var body []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	h := make([]byte, 27, 27+len(lacing)+len(body))
	copy(h, "OggS")
	h[5] = headerType
	binary.LittleEndian.PutUint64(h[6:], uint64(granule))
	binary.LittleEndian.PutUint32(h[14:], serial)
	binary.LittleEndian.PutUint32(h[18:], seq)
	h[26] = byte(len(lacing))
	page := append(append(h, lacing...), body...)
	binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
	return page
}

func OpusHead(preSkip uint16) []byte {
	p := []byte("OpusHead\x01\x01\x00\x00\x80\xbb\x00\x00\x00\x00\x00")
	binary.LittleEndian.PutUint16(p[10:], preSkip)
	return p
}

// Opus is an Ogg/Opus voice note: 20 ms CELT packets (TOC 0xF8) of
// the given sizes, 50 per page, granules counting 960 samples each.
func Opus(preSkip uint16, sizes []int) []byte {
	var out []byte
	const serial = 0x1234
	out = append(out, OggPage(2, 0, serial, 0, OpusHead(preSkip))...)
	out = append(out, OggPage(0, 0, serial, 1, []byte("OpusTags\x04\x00\x00\x00test\x00\x00\x00\x00"))...)
	seq := uint32(2)
	granule := int64(preSkip)
	for i := 0; i < len(sizes); i += 50 {
		var packets [][]byte
		for _, s := range sizes[i:min(i+50, len(sizes))] {
			p := bytes.Repeat([]byte{0x55}, s)
			p[0] = 0xF8 // CELT fullband 20 ms, one frame
			packets = append(packets, p)
			granule += 960
		}
		ht := byte(0)
		if i+50 >= len(sizes) {
			ht = 4 // end of stream
		}
		out = append(out, OggPage(ht, granule, serial, seq, packets...)...)
		seq++
	}
	return out
}

// Vorbis is an Ogg stream whose first packet is a Vorbis header.
func Vorbis() []byte {
	id := append([]byte("\x01vorbis"), make([]byte, 23)...)
	out := OggPage(2, 0, 7, 0, id)
	return append(out, OggPage(4, 44100, 7, 1, []byte("\x03vorbis"), bytes.Repeat([]byte{1}, 300))...)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func MP4Box(typ string, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	return append(append(be32(uint32(8+len(body))), typ...), body...)
}

// MP4 is ftyp + moov (mvhd, an audio trak, a video trak) + mdat;
// rotate sets a 90° matrix on the video track.
func MP4(brand string, w, h uint32, timescale, duration uint32, rotate bool, mdat int) []byte {
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:], timescale)
	binary.BigEndian.PutUint32(mvhd[16:], duration)
	tkhd := func(w, h uint32) []byte {
		p := make([]byte, 84)
		m := 40
		if rotate {
			binary.BigEndian.PutUint32(p[m+4:], 0x00010000)
			binary.BigEndian.PutUint32(p[m+12:], 0xFFFF0000)
		} else {
			binary.BigEndian.PutUint32(p[m:], 0x00010000)
			binary.BigEndian.PutUint32(p[m+16:], 0x00010000)
		}
		binary.BigEndian.PutUint32(p[m+32:], 0x40000000)
		binary.BigEndian.PutUint32(p[76:], w<<16)
		binary.BigEndian.PutUint32(p[80:], h<<16)
		return MP4Box("tkhd", p)
	}
	ftyp := MP4Box("ftyp", []byte(brand), be32(0), []byte("isommp41"))
	moov := MP4Box("moov",
		MP4Box("mvhd", mvhd),
		MP4Box("trak", tkhd(0, 0), MP4Box("mdia")),
		MP4Box("trak", tkhd(w, h), MP4Box("mdia")),
	)
	return append(append(ftyp, moov...), MP4Box("mdat", make([]byte, mdat))...)
}

// MP4Head is an MP4 without its mdat payload, for streaming sources.
func MP4Head(mdat int64) []byte {
	f := MP4("isom", 640, 360, 1000, 5000, false, 0)
	binary.BigEndian.PutUint32(f[len(f)-8:], uint32(8+mdat))
	return f
}

func WebPVP8(w, h uint16) []byte {
	data := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 1, 2, 3, 4}
	binary.LittleEndian.PutUint16(data[6:], w)
	binary.LittleEndian.PutUint16(data[8:], h)
	return Riff("VP8 ", data)
}

func WebPVP8L(w, h uint32) []byte {
	data := []byte{0x2f, 0, 0, 0, 0, 9, 9}
	binary.LittleEndian.PutUint32(data[1:], (w-1)|(h-1)<<14)
	return Riff("VP8L", data)
}

func WebPVP8X(w, h uint32, animated bool) []byte {
	data := make([]byte, 10)
	if animated {
		data[0] = 0x02 | 0x10
	}
	data[4], data[5], data[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	data[7], data[8], data[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return append(Riff("VP8X", data), []byte("ANIM\x06\x00\x00\x00\xff\xff\xff\xff\x00\x00")...)
}

func Riff(chunk string, data []byte) []byte {
	body := append([]byte("WEBP"+chunk), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	body = append(body, data...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// MP3 is a constant-bitrate MPEG-1 layer III stream: 128 kbit/s,
// 44.1 kHz, frames of 417 bytes, after an ID3v2 tag.
func MP3(frames int) []byte {
	out := []byte("ID3\x04\x00\x00\x00\x00\x00\x0a")
	out = append(out, make([]byte, 10)...)
	frame := make([]byte, 417)
	copy(frame, []byte{0xFF, 0xFB, 0x90, 0x64})
	for range frames {
		out = append(out, frame...)
	}
	return out
}
