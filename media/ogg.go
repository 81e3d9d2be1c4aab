package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Ogg (RFC 3533) and Opus in Ogg (RFC 7845): enough to tell the codec,
// the duration and the packet sizes, reading pages as a stream.

// oggPrefix is how much of a packet walkOgg hands over: the identification
// header with a full channel mapping table fits.
const oggPrefix = 320

var errNotOgg = errors.New("not an Ogg stream")

// walkOgg calls fn for each complete packet of the first logical stream:
// its first bytes (at most oggPrefix, valid only during the call), its
// length, and the granule position of the page it ends on. Other streams'
// pages are skipped. Memory is bounded whatever the packet sizes.
// A file cut off inside a page ends the walk without an error; anything
// else that is not a page is errNotOgg.
func walkOgg(r io.Reader, fn func(prefix []byte, size int, granule int64) error) error {
	br := bufio.NewReaderSize(r, 16*kib)
	var (
		hdr    [27]byte
		segs   [255]byte
		prefix = make([]byte, 0, oggPrefix)
		size   int // bytes of the packet being assembled
		serial uint32
		first  = true
	)
	for page := 0; ; page++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF && !first {
				return nil
			}
			if err == io.ErrUnexpectedEOF && !first {
				return nil // truncated last page
			}
			if first {
				return errNotOgg
			}
			return err
		}
		if string(hdr[:4]) != "OggS" || hdr[4] != 0 {
			return fmt.Errorf("%w: no page at page %d", errNotOgg, page)
		}
		headerType := hdr[5]
		granule := int64(binary.LittleEndian.Uint64(hdr[6:14]))
		pageSerial := binary.LittleEndian.Uint32(hdr[14:18])
		n := int(hdr[26])
		if _, err := io.ReadFull(br, segs[:n]); err != nil {
			if first {
				return errNotOgg
			}
			return nil
		}
		if first {
			serial = pageSerial
			first = false
		}
		mine := pageSerial == serial
		if mine && headerType&1 == 0 && size > 0 {
			// A continued packet whose page does not say so: drop it.
			size, prefix = 0, prefix[:0]
		}
		for _, lace := range segs[:n] {
			l := int(lace)
			if !mine {
				if _, err := br.Discard(l); err != nil {
					return nil
				}
				continue
			}
			if room := oggPrefix - len(prefix); room > 0 {
				take := min(room, l)
				start := len(prefix)
				prefix = prefix[:start+take]
				if _, err := io.ReadFull(br, prefix[start:]); err != nil {
					return nil
				}
				if _, err := br.Discard(l - take); err != nil {
					return nil
				}
			} else if _, err := br.Discard(l); err != nil {
				return nil
			}
			size += l
			if l < 255 {
				if err := fn(prefix, size, granule); err != nil {
					return err
				}
				size, prefix = 0, prefix[:0]
			}
		}
	}
}

// oggInfo is what one pass over an Ogg file finds.
type oggInfo struct {
	codec       string // "opus", "vorbis", "flac", "speex" or "unknown"
	preSkip     int64
	lastGranule int64
	packets     int   // audio packets (after the two Opus headers)
	samples     int64 // sum of the audio packets' durations from their TOC, 48 kHz
}

// probeOgg reads an Ogg file's codec and, for Opus, its duration.
func probeOgg(r io.Reader) (*oggInfo, error) {
	info := &oggInfo{codec: "unknown", lastGranule: -1}
	n := 0
	err := walkOgg(r, func(p []byte, size int, granule int64) error {
		n++
		if n == 1 {
			switch {
			case len(p) >= 19 && bytes.HasPrefix(p, []byte("OpusHead")):
				info.codec = "opus"
				info.preSkip = int64(binary.LittleEndian.Uint16(p[10:12]))
			case bytes.HasPrefix(p, []byte("\x01vorbis")):
				info.codec = "vorbis"
			case bytes.HasPrefix(p, []byte("\x7fFLAC")):
				info.codec = "flac"
			case bytes.HasPrefix(p, []byte("Speex   ")):
				info.codec = "speex"
			}
			return nil
		}
		if granule >= 0 {
			info.lastGranule = max(info.lastGranule, granule)
		}
		if info.codec == "opus" && n > 2 {
			info.packets++
			info.samples += opusSamples(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errNotOgg
	}
	return info, nil
}

// seconds is the Opus duration: last granule minus pre-skip at 48 kHz.
func (o *oggInfo) seconds() uint32 {
	s := o.lastGranule - o.preSkip
	if o.codec != "opus" || s <= 0 {
		return 0
	}
	return uint32(max(1, (s+24000)/48000))
}

// opusSamples is the duration of an Opus packet at 48 kHz from its TOC
// byte (RFC 6716 section 3.1); 0 for an empty or malformed packet.
func opusSamples(p []byte) int64 {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	config := toc >> 3
	var frame int64 // samples at 48 kHz
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int64{480, 960, 1920, 2880}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		frame = []int64{480, 960}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int64{120, 240, 480, 960}[config%4]
	}
	switch toc & 3 {
	case 0:
		return frame
	case 1, 2:
		return 2 * frame
	}
	if len(p) < 2 {
		return 0
	}
	return int64(p[1]&0x3F) * frame
}

// WaveformLen is the number of values in a voice note's waveform.
const WaveformLen = 64

// oggWaveform derives a voice note's waveform from its Opus packet sizes
// (see the package comment): a second pass after probeOgg.
func oggWaveform(r io.Reader, info *oggInfo) ([]byte, error) {
	var sum, count [WaveformLen]int64
	var at int64 // samples before the current packet
	idx := 0     // packets seen, for files whose TOCs say nothing
	n := 0
	err := walkOgg(r, func(p []byte, size int, _ int64) error {
		n++
		if n <= 2 {
			return nil
		}
		var b int
		if info.samples > 0 {
			b = int(at * WaveformLen / info.samples)
			at += opusSamples(p)
		} else if info.packets > 0 {
			b = idx * WaveformLen / info.packets
		}
		idx++
		b = min(max(b, 0), WaveformLen-1)
		sum[b] += int64(size)
		count[b]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	var mean [WaveformLen]int64
	var peak int64
	for i := range mean {
		switch {
		case count[i] > 0:
			mean[i] = sum[i] / count[i]
		case i > 0:
			mean[i] = mean[i-1] // fewer packets than slices
		}
		peak = max(peak, mean[i])
	}
	wave := make([]byte, WaveformLen)
	if peak == 0 {
		return wave, nil
	}
	for i, m := range mean {
		wave[i] = byte((m*100 + peak/2) / peak)
	}
	return wave, nil
}
