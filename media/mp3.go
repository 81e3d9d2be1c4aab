package media

import (
	"encoding/binary"
	"io"
)

// mp3Seconds is a best-effort MP3 duration: the frame count of a Xing or
// Info header, else the size over the first frame's bitrate (exact for
// constant bitrate files); 0 when no MPEG-1/2 layer III frame is found.
func mp3Seconds(r io.ReaderAt, size int64) uint32 {
	var start int64
	var id3 [10]byte
	if n, _ := r.ReadAt(id3[:], 0); n == 10 && string(id3[:3]) == "ID3" {
		// Synchsafe tag size, plus the header and an optional footer.
		start = int64(id3[6]&0x7F)<<21 | int64(id3[7]&0x7F)<<14 | int64(id3[8]&0x7F)<<7 | int64(id3[9]&0x7F)
		start += 10
		if id3[5]&0x10 != 0 {
			start += 10
		}
	}
	var buf [16 * kib]byte
	n, _ := r.ReadAt(buf[:], start)
	p := buf[:n]
	for i := 0; i+4 <= len(p); i++ {
		if p[i] != 0xFF || p[i+1]&0xE0 != 0xE0 {
			continue
		}
		rate, samples, bitrate, side, ok := mp3Header(p[i : i+4])
		if !ok {
			continue
		}
		// A Xing/Info header sits after the side information.
		x := i + 4 + side
		if x+12 <= len(p) && (string(p[x:x+4]) == "Xing" || string(p[x:x+4]) == "Info") &&
			binary.BigEndian.Uint32(p[x+4:x+8])&1 != 0 {
			frames := int64(binary.BigEndian.Uint32(p[x+8 : x+12]))
			return uint32((frames*samples + rate/2) / rate)
		}
		audio := size - start - int64(i)
		if audio <= 0 {
			return 0
		}
		return uint32((audio*8 + bitrate*500) / (bitrate * 1000))
	}
	return 0
}

var (
	mp3Rates1 = [15]int64{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	mp3Rates2 = [15]int64{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	mp3Freqs  = [3]int64{44100, 48000, 32000}
)

// mp3Header decodes a layer III frame header: sample rate, samples per
// frame, bitrate in kbit/s and the side information's length.
func mp3Header(h []byte) (rate, samples, bitrate int64, side int, ok bool) {
	version := (h[1] >> 3) & 3 // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
	layer := (h[1] >> 1) & 3   // 1 layer III
	bi := h[2] >> 4
	fi := (h[2] >> 2) & 3
	mono := h[3]>>6 == 3
	if version == 1 || layer != 1 || bi == 0 || bi == 15 || fi == 3 {
		return 0, 0, 0, 0, false
	}
	rate = mp3Freqs[fi]
	if version == 3 {
		bitrate, samples, side = mp3Rates1[bi], 1152, 32
		if mono {
			side = 17
		}
	} else {
		rate /= 2
		if version == 0 {
			rate /= 2
		}
		bitrate, samples, side = mp3Rates2[bi], 576, 17
		if mono {
			side = 9
		}
	}
	return rate, samples, bitrate, side, true
}
