package media

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of the image kinds
	_ "image/png"
	"io"
	"os"
	"strings"
)

// pttHelp tells a client how to make a voice note.
const pttHelp = "convert it with e.g. `ffmpeg -i in.mp3 -c:a libopus -ac 1 out.ogg`, or send it without ptt as plain audio"

// probe sniffs the staged file, settles its type and reads what WhatsApp
// shows: dimensions, duration, waveform.
func (st *staging) probe(f *os.File, size int64) (*Info, error) {
	head := make([]byte, min(size, sniffLen))
	if _, err := f.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("media: probing: %w", err)
	}
	sniffed := sniff(head)
	info := &Info{FileName: st.fileName}
	switch st.kind {
	case KindDocument:
		info.Mimetype = st.documentType(sniffed)
		if info.FileName == "" {
			info.FileName = "file" + extFor(info.Mimetype)
		}
		return info, nil
	case KindImage, KindSticker:
		return info, st.probeImage(f, head, sniffed, info)
	case KindVideo:
		return info, st.probeVideo(f, size, sniffed, info)
	case KindAudio:
		return info, st.probeAudio(f, size, sniffed, info)
	}
	return nil, inputErr("type", "unknown media type %q", st.kind)
}

// documentType: the declared type, else a telling sniff, else the
// extension, else what the server said, else the sniff.
func (st *staging) documentType(sniffed string) string {
	switch {
	case st.declared != "":
		return st.declared
	case !weakSniff(sniffed):
		return sniffed
	}
	if t := typeByName(st.fileName); t != "" {
		return t
	}
	if !isGeneric(st.served) && st.served != "text/html" {
		return st.served
	}
	if sniffed == "" {
		return "application/octet-stream"
	}
	return sniffed
}

// notKind says the bytes are not of the kind, with a hint what to do.
func (st *staging) notKind(sniffed string) error {
	hint := ""
	switch {
	case st.kind == KindImage && sniffed == "image/webp":
		hint = "; send WebP as a sticker, or convert it to JPEG"
	case st.kind == KindImage && sniffed == "image/gif":
		hint = "; send animations as an MP4 video, or convert it to PNG"
	case st.kind == KindSticker && strings.HasPrefix(sniffed, "image/"):
		hint = "; stickers must be WebP (512×512), or send it as an image"
	case st.kind == KindVideo:
		hint = "; convert it with e.g. `ffmpeg -i in.mov -c:v libx264 -c:a aac out.mp4`"
	case st.kind == KindAudio:
		hint = "; convert it with e.g. `ffmpeg -i in.wav -c:a libopus out.ogg`"
	}
	what := sniffed
	if isGeneric(sniffed) {
		what = "not a recognised format"
	}
	return inputErr(st.field, "%s must be %s; this file is %s%s", st.kind, allowedList(st.kind), what, hint)
}

func (st *staging) contradicts(sniffed string) error {
	return inputErr("mimetype", "declared %s, but the file is %s", st.declared, sniffed)
}

func (st *staging) probeImage(f *os.File, head []byte, sniffed string, info *Info) error {
	if !isAllowed(st.kind, sniffed) {
		return st.notKind(sniffed)
	}
	if st.declared != "" && st.declared != sniffed {
		return st.contradicts(sniffed)
	}
	info.Mimetype = sniffed
	if sniffed == "image/webp" {
		w, err := probeWebP(head)
		if err != nil {
			return inputErr(st.field, "the WebP image is corrupt: its header has no VP8, VP8L or VP8X chunk")
		}
		info.Width, info.Height, info.Animated = w.width, w.height, w.animated
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("media: probing: %w", err)
	}
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return inputErr(st.field, "the %s image is corrupt: %v", strings.ToUpper(strings.TrimPrefix(sniffed, "image/")), err)
	}
	info.Width, info.Height = uint32(cfg.Width), uint32(cfg.Height)
	return nil
}

func (st *staging) probeVideo(f *os.File, size int64, sniffed string, info *Info) error {
	if sniffed == "audio/mp4" { // an MP4 whose brand says audio still holds a video
		sniffed = "video/mp4"
	}
	if !isAllowed(st.kind, sniffed) {
		return st.notKind(sniffed)
	}
	info.Mimetype = sniffed // over a declared video type: the bytes know better
	m, err := probeMP4(f, size)
	if err != nil {
		return st.mp4Err(err)
	}
	info.Seconds, info.Width, info.Height = m.seconds, m.width, m.height
	return nil
}

func (st *staging) mp4Err(err error) error {
	if errors.Is(err, errNoMoov) || errors.Is(err, errNotMP4) || errors.Is(err, errTooMany) {
		return inputErr(st.field, "%v", err)
	}
	return fmt.Errorf("media: probing: %w", err)
}

func (st *staging) probeAudio(f *os.File, size int64, sniffed string, info *Info) error {
	if sniffed == "video/mp4" || sniffed == "video/3gpp" { // M4A often carries a video brand
		sniffed = "audio/mp4"
	}
	if st.ptt && sniffed != "audio/ogg" {
		what := sniffed
		if isGeneric(what) {
			what = "not a recognised format"
		}
		return inputErr("ptt", "a voice note (ptt) must be Ogg/Opus; this file is %s: %s", what, pttHelp)
	}
	if !isAllowed(st.kind, sniffed) {
		return st.notKind(sniffed)
	}
	if st.ptt && st.declared != "" && st.declared != sniffed {
		return st.contradicts(sniffed)
	}
	info.Mimetype = sniffed
	switch sniffed {
	case "audio/ogg":
		return st.probeOpus(f, info)
	case "audio/mpeg":
		info.Seconds = mp3Seconds(f, size)
	case "audio/mp4":
		m, err := probeMP4(f, size)
		if err != nil {
			return st.mp4Err(err)
		}
		info.Seconds = m.seconds
	}
	return nil
}

func (st *staging) probeOpus(f *os.File, info *Info) error {
	rewind := func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("media: probing: %w", err)
		}
		return nil
	}
	if err := rewind(); err != nil {
		return err
	}
	o, err := probeOgg(f)
	if errors.Is(err, errNotOgg) {
		return inputErr(st.field, "the Ogg file is corrupt: %v", err)
	}
	if err != nil {
		return fmt.Errorf("media: probing: %w", err)
	}
	if o.codec != "opus" {
		codec := map[string]string{"vorbis": "Ogg Vorbis", "flac": "Ogg FLAC", "speex": "Ogg Speex"}[o.codec]
		if codec == "" {
			codec = "Ogg without an OpusHead"
		}
		if st.ptt {
			return inputErr("ptt", "a voice note (ptt) must be Ogg/Opus; this file is %s: %s", codec, pttHelp)
		}
		return inputErr(st.field, "Ogg audio must be Opus; this file is %s: convert it with e.g. `ffmpeg -i in.ogg -c:a libopus out.ogg`", codec)
	}
	info.Mimetype = PTTMimetype
	info.Seconds = o.seconds()
	if !st.ptt {
		return nil
	}
	if err := rewind(); err != nil {
		return err
	}
	if info.Waveform, err = oggWaveform(f, o); err != nil {
		return fmt.Errorf("media: probing: %w", err)
	}
	return nil
}
