package media

import (
	"encoding/binary"
	"errors"
)

var errNotWebP = errors.New("not a WebP image")

type webpInfo struct {
	width, height uint32
	animated      bool
}

// probeWebP reads a WebP's size and animation flag from its first chunk
// (VP8, VP8L or VP8X; Google's "WebP Container Specification").
func probeWebP(head []byte) (*webpInfo, error) {
	if len(head) < 20 || string(head[:4]) != "RIFF" || string(head[8:12]) != "WEBP" {
		return nil, errNotWebP
	}
	chunk, data := string(head[12:16]), head[20:]
	switch chunk {
	case "VP8 ":
		// Frame tag (3 bytes), start code 9d 01 2a, 14-bit width and height.
		if len(data) < 10 || data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a {
			return nil, errNotWebP
		}
		w := uint32(binary.LittleEndian.Uint16(data[6:8]) & 0x3FFF)
		h := uint32(binary.LittleEndian.Uint16(data[8:10]) & 0x3FFF)
		return &webpInfo{width: w, height: h}, nil
	case "VP8L":
		// Signature 0x2f, then 14 bits width−1 and 14 bits height−1.
		if len(data) < 5 || data[0] != 0x2f {
			return nil, errNotWebP
		}
		bits := binary.LittleEndian.Uint32(data[1:5])
		return &webpInfo{width: bits&0x3FFF + 1, height: (bits>>14)&0x3FFF + 1}, nil
	case "VP8X":
		// Flags (animation 0x02), 3 reserved bytes, 24-bit canvas width−1
		// and height−1.
		if len(data) < 10 {
			return nil, errNotWebP
		}
		w := uint32(data[4]) | uint32(data[5])<<8 | uint32(data[6])<<16
		h := uint32(data[7]) | uint32(data[8])<<8 | uint32(data[9])<<16
		return &webpInfo{width: w + 1, height: h + 1, animated: data[0]&0x02 != 0}, nil
	}
	return nil, errNotWebP
}
