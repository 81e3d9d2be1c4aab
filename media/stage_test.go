package media

import (
	"github.com/meowgate/meowgate/internal/mediatest"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stage runs Stage into a fresh directory and returns the info, the
// directory and the error.
func stage(t *testing.T, kind string, ptt bool, src Source) (*Info, string, error) {
	t.Helper()
	dir := t.TempDir()
	info, err := (&Fetcher{}).Stage(context.Background(), kind, ptt, src, filepath.Join(dir, "m1"))
	return info, dir, err
}

// mustStage stages src and checks the file on disk matches it.
func mustStage(t *testing.T, kind string, ptt bool, src Source, want []byte) *Info {
	t.Helper()
	info, dir, err := stage(t, kind, ptt, src)
	if err != nil {
		t.Fatalf("Stage(%s): %v", kind, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "m1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("staged %d bytes, want %d", len(got), len(want))
	}
	if info.Size != int64(len(want)) || info.SHA256 != sha256.Sum256(want) {
		t.Fatalf("size %d sha %x, want %d %x", info.Size, info.SHA256, len(want), sha256.Sum256(want))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the staged file", len(entries))
	}
	return info
}

// wantInputErr checks err is an *InputError on field mentioning each
// of words, and that dir holds no file.
func wantInputErr(t *testing.T, err error, dir, field string, words ...string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want an *InputError", err, err)
	}
	t.Logf("%s: %s", ie.Field, ie.Msg)
	if ie.Field != field {
		t.Errorf("field %q, want %q (%v)", ie.Field, field, ie)
	}
	for _, w := range words {
		if !strings.Contains(ie.Msg, w) {
			t.Errorf("message %q does not mention %q", ie.Msg, w)
		}
	}
	if dir != "" {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("an error left %d entries behind (%s)", len(entries), entries[0].Name())
		}
	}
}

func TestStageImage(t *testing.T) {
	jpg := mediatest.JPEG(t, 120, 80)
	info := mustStage(t, KindImage, false, Source{Reader: bytes.NewReader(jpg), FileName: "x.jpg"}, jpg)
	if info.Mimetype != "image/jpeg" || info.Width != 120 || info.Height != 80 {
		t.Errorf("jpeg info %+v", info)
	}

	png := mediatest.PNG(t, 30, 50)
	std := base64.StdEncoding.EncodeToString(png)
	for name, b64 := range map[string]string{
		"standard":      std,
		"unpadded":      strings.TrimRight(std, "="),
		"url-safe":      base64.URLEncoding.EncodeToString(png),
		"url-raw":       base64.RawURLEncoding.EncodeToString(png),
		"data URL":      "data:image/png;base64," + std,
		"wrapped lines": std[:40] + "\r\n" + std[40:80] + "\n" + std[80:],
	} {
		t.Run(name, func(t *testing.T) {
			info := mustStage(t, KindImage, false, Source{Base64: b64, Mimetype: "image/PNG"}, png)
			if info.Mimetype != "image/png" || info.Width != 30 || info.Height != 50 {
				t.Errorf("png info %+v", info)
			}
		})
	}
}

func TestStageSticker(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     []byte
		w, h     uint32
		animated bool
	}{
		{"VP8", mediatest.WebPVP8(512, 512), 512, 512, false},
		{"VP8L", mediatest.WebPVP8L(300, 200), 300, 200, false},
		{"VP8X animated", mediatest.WebPVP8X(512, 480, true), 512, 480, true},
		{"VP8X still", mediatest.WebPVP8X(96, 96, false), 96, 96, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := mustStage(t, KindSticker, false, Source{Reader: bytes.NewReader(tc.file)}, tc.file)
			if info.Mimetype != "image/webp" || info.Width != tc.w || info.Height != tc.h || info.Animated != tc.animated {
				t.Errorf("info %+v, want %dx%d animated=%v", info, tc.w, tc.h, tc.animated)
			}
		})
	}
}

func TestStageVideo(t *testing.T) {
	mp4 := mediatest.MP4("isom", 1280, 720, 600, 600*42+200, false, 5000)
	info := mustStage(t, KindVideo, false, Source{Reader: bytes.NewReader(mp4), Mimetype: "video/mp4"}, mp4)
	if info.Mimetype != "video/mp4" || info.Width != 1280 || info.Height != 720 || info.Seconds != 42 {
		t.Errorf("mp4 info %+v", info)
	}
	portrait := mediatest.MP4("mp42", 1920, 1080, 1000, 9600, true, 10)
	info = mustStage(t, KindVideo, false, Source{Reader: bytes.NewReader(portrait)}, portrait)
	if info.Width != 1080 || info.Height != 1920 || info.Seconds != 10 {
		t.Errorf("rotated mp4 info %+v, want 1080x1920 10s", info)
	}
	gp := mediatest.MP4("3gp5", 176, 144, 1000, 3000, false, 10)
	info = mustStage(t, KindVideo, false, Source{Reader: bytes.NewReader(gp), Mimetype: "video/mp4"}, gp)
	if info.Mimetype != "video/3gpp" || info.Width != 176 {
		t.Errorf("3gp info %+v", info)
	}
}

func TestStageAudio(t *testing.T) {
	// 5 s voice note: quiet (20-byte packets), loud (120), quiet.
	var sizes []int
	for i := range 250 {
		s := 20
		if i >= 100 && i < 150 {
			s = 120
		}
		sizes = append(sizes, s)
	}
	ogg := mediatest.Opus(312, sizes)
	info := mustStage(t, KindAudio, true, Source{Reader: bytes.NewReader(ogg), Mimetype: "audio/ogg; codecs=opus"}, ogg)
	if info.Mimetype != PTTMimetype || info.Seconds != 5 {
		t.Errorf("voice note info: %s %ds, want %s 5s", info.Mimetype, info.Seconds, PTTMimetype)
	}
	if len(info.Waveform) != WaveformLen {
		t.Fatalf("waveform has %d values, want %d", len(info.Waveform), WaveformLen)
	}
	// Slices 0–24 are quiet, 26–37 loud (packets 100–149 of 250).
	for i, v := range info.Waveform {
		switch {
		case v > 100:
			t.Errorf("waveform[%d] = %d > 100", i, v)
		case i >= 26 && i <= 37 && v != 100:
			t.Errorf("loud waveform[%d] = %d, want 100", i, v)
		case (i < 25 || i > 38) && v > 20:
			t.Errorf("quiet waveform[%d] = %d, want ≤ 20", i, v)
		}
	}

	// Plain Opus audio: no waveform.
	info = mustStage(t, KindAudio, false, Source{Reader: bytes.NewReader(ogg)}, ogg)
	if info.Waveform != nil || info.Seconds != 5 {
		t.Errorf("plain opus info %+v", info)
	}

	mp3 := mediatest.MP3(383)
	info = mustStage(t, KindAudio, false, Source{Reader: bytes.NewReader(mp3), Mimetype: "audio/mp3"}, mp3)
	if info.Mimetype != "audio/mpeg" || info.Seconds != 10 {
		t.Errorf("mp3 info %s %ds, want audio/mpeg 10s", info.Mimetype, info.Seconds)
	}
	bare := mp3[20:] // no ID3 tag: sniffed from the frame sync
	info = mustStage(t, KindAudio, false, Source{Reader: bytes.NewReader(bare)}, bare)
	if info.Mimetype != "audio/mpeg" || info.Seconds != 10 {
		t.Errorf("bare mp3 info %s %ds", info.Mimetype, info.Seconds)
	}

	m4a := mediatest.MP4("M4A ", 0, 0, 44100, 44100*7, false, 100)
	info = mustStage(t, KindAudio, false, Source{Reader: bytes.NewReader(m4a), Mimetype: "audio/x-m4a"}, m4a)
	if info.Mimetype != "audio/mp4" || info.Seconds != 7 {
		t.Errorf("m4a info %s %ds", info.Mimetype, info.Seconds)
	}

	amr := []byte("#!AMR\n\x3c\x00\x00\x00")
	info = mustStage(t, KindAudio, false, Source{Reader: bytes.NewReader(amr)}, amr)
	if info.Mimetype != "audio/amr" {
		t.Errorf("amr info %+v", info)
	}
}

func TestStageDocument(t *testing.T) {
	pdf := []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n")
	info := mustStage(t, KindDocument, false, Source{Base64: base64.StdEncoding.EncodeToString(pdf)}, pdf)
	if info.Mimetype != "application/pdf" || info.FileName != "file.pdf" {
		t.Errorf("pdf info: %s %q", info.Mimetype, info.FileName)
	}
	zip := []byte("PK\x03\x04\x14\x00\x06\x00rest of a docx")
	info = mustStage(t, KindDocument, false, Source{Reader: bytes.NewReader(zip), FileName: `C:\Users\me\Report.docx`}, zip)
	if !strings.Contains(info.Mimetype, "wordprocessingml") || info.FileName != "Report.docx" {
		t.Errorf("docx info: %s %q", info.Mimetype, info.FileName)
	}
	csv := []byte("a,b\n1,2\n")
	info = mustStage(t, KindDocument, false, Source{Reader: bytes.NewReader(csv), FileName: "t.csv", Mimetype: "text/csv; charset=utf-8"}, csv)
	if info.Mimetype != "text/csv" {
		t.Errorf("csv info: %s", info.Mimetype)
	}
	bin := []byte{0, 1, 2, 3, 0xfe}
	info = mustStage(t, KindDocument, false, Source{Reader: bytes.NewReader(bin)}, bin)
	if info.Mimetype != "application/octet-stream" || info.FileName != "file" {
		t.Errorf("binary info: %s %q", info.Mimetype, info.FileName)
	}
}

// TestStageBadInput: every bad input is an *InputError naming its field,
// and leaves nothing in the directory.
func TestStageBadInput(t *testing.T) {
	jpg := mediatest.JPEG(t, 10, 10)
	png := mediatest.PNG(t, 10, 10)
	mp3 := mediatest.MP3(40)
	var sizes []int
	for range 20 {
		sizes = append(sizes, 30)
	}
	opus := mediatest.Opus(0, sizes)
	r := func(b []byte) Source { return Source{Reader: bytes.NewReader(b)} }
	for _, tc := range []struct {
		name  string
		kind  string
		ptt   bool
		src   Source
		field string
		words []string
	}{
		{"no source", KindImage, false, Source{}, "url", []string{"one of"}},
		{"two sources", KindImage, false, Source{URL: "http://x/", Base64: "AAAA"}, "url", []string{"only one"}},
		{"unknown kind", "gif", false, r(jpg), "type", nil},
		{"ptt on an image", KindImage, true, r(jpg), "ptt", []string{"only for audio"}},
		{"bad mimetype syntax", KindImage, false, Source{Reader: bytes.NewReader(jpg), Mimetype: "jpeg"}, "mimetype", []string{"not a content type"}},
		{"mimetype of another kind", KindImage, false, Source{Reader: bytes.NewReader(jpg), Mimetype: "video/mp4"}, "mimetype", []string{"image/jpeg, image/png"}},
		{"declared png, bytes jpeg", KindImage, false, Source{Reader: bytes.NewReader(jpg), Mimetype: "image/png"}, "mimetype", []string{"image/png", "image/jpeg"}},
		{"data URL contradicts mimetype", KindImage, false, Source{Base64: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(png), Mimetype: "image/png"}, "mimetype", nil},
		{"data URL type wrong for bytes", KindImage, false, Source{Base64: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(png)}, "mimetype", []string{"image/png"}},
		{"corrupt base64", KindImage, false, Source{Base64: "iVBORw0KGgo*AAAA"}, "base64", []string{"not valid base64"}},
		{"base64 with padding inside", KindImage, false, Source{Base64: "iVBO=w0KGgo"}, "base64", []string{"not valid base64"}},
		{"data URL without base64", KindImage, false, Source{Base64: "data:image/png,abc"}, "base64", []string{"base64"}},
		{"empty file", KindDocument, false, r(nil), "file", []string{"empty"}},
		{"gif as image", KindImage, false, r([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")), "file", []string{"image/gif", "video"}},
		{"webp as image", KindImage, false, r(mediatest.WebPVP8(10, 10)), "file", []string{"sticker"}},
		{"truncated jpeg", KindImage, false, r(jpg[:30]), "file", []string{"corrupt"}},
		{"png as sticker", KindSticker, false, r(png), "file", []string{"WebP"}},
		{"sticker too large", KindSticker, false, r(append(mediatest.WebPVP8(512, 512), make([]byte, 500*1024)...)), "file", []string{"500 KiB"}},
		{"text as video", KindVideo, false, r([]byte("hello, world")), "file", []string{"video/mp4", "ffmpeg"}},
		{"mp4 without moov", KindVideo, false, r(append(mediatest.MP4Box("ftyp", []byte("isom\x00\x00\x00\x00")), mediatest.MP4Box("mdat", make([]byte, 64))...)), "file", []string{"moov"}},
		{"mp3 as voice note", KindAudio, true, r(mp3), "ptt", []string{"Ogg/Opus", "ffmpeg -i in.mp3 -c:a libopus", "without ptt"}},
		{"vorbis as voice note", KindAudio, true, r(mediatest.Vorbis()), "ptt", []string{"Vorbis", "ffmpeg"}},
		{"vorbis as audio", KindAudio, false, r(mediatest.Vorbis()), "file", []string{"Opus", "Vorbis"}},
		{"ogg without pages", KindAudio, false, r([]byte("OggS\x01garbage")), "file", []string{"Ogg"}},
		{"voice note declared mp3", KindAudio, true, Source{Reader: bytes.NewReader(opus), Mimetype: "audio/mpeg"}, "mimetype", []string{"audio/ogg"}},
		{"wav as audio", KindAudio, false, r([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00")), "file", []string{"audio/wave"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dir, err := stage(t, tc.kind, tc.ptt, tc.src)
			wantInputErr(t, err, dir, tc.field, tc.words...)
		})
	}
}

// TestStageCanceled: the caller's cancelation is not the client's fault,
// and leaves nothing behind either.
func TestStageCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := (&Fetcher{}).Stage(ctx, KindDocument, false, Source{Reader: strings.NewReader("data")}, filepath.Join(dir, "m"))
	var ie *InputError
	if !errors.Is(err, context.Canceled) || errors.As(err, &ie) {
		t.Fatalf("error %v, want context.Canceled and no InputError", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("cancelation left %d entries", len(entries))
	}
}

func TestThumbnail(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, mime string
		file       []byte
		w, h       int
	}{
		{"big.jpg", "image/jpeg", mediatest.JPEG(t, 1000, 500), 96, 48},
		{"tall.png", "image/png", mediatest.PNG(t, 200, 400), 48, 96},
		{"small.png", "image/png", mediatest.PNG(t, 40, 30), 40, 30},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.file, 0o600); err != nil {
			t.Fatal(err)
		}
		th, err := Thumbnail(p, tc.mime)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cfg, format, err := imageConfig(th)
		if err != nil || format != "jpeg" || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Errorf("%s: thumbnail %s %dx%d (%v), want jpeg %dx%d", tc.name, format, cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
		if len(th) > 8*1024 {
			t.Errorf("%s: thumbnail is %d bytes, want a few KB", tc.name, len(th))
		}
	}
	if th, err := Thumbnail(filepath.Join(dir, "big.jpg"), "video/mp4"); th != nil || err != nil {
		t.Errorf("a video got a thumbnail: %d bytes, %v", len(th), err)
	}
}

// TestThumbnailHuge: an image above the pixel cap is not decoded.
func TestThumbnailHuge(t *testing.T) {
	// A PNG header claiming 10000×10000 pixels, with no image data.
	p := mediatest.PNG(t, 1, 1)
	huge := append([]byte(nil), p[:33]...)
	copy(huge[16:], binary.BigEndian.AppendUint32(nil, 10000))
	copy(huge[20:], binary.BigEndian.AppendUint32(nil, 10000))
	copy(huge[29:], binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(huge[12:29])))
	path := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(path, huge, 0o600); err != nil {
		t.Fatal(err)
	}
	th, err := Thumbnail(path, "image/png")
	if th != nil || err != nil {
		t.Fatalf("Thumbnail of a 100 MP image = %d bytes, %v; want nil, nil", len(th), err)
	}
}

func imageConfig(b []byte) (image.Config, string, error) {
	return image.DecodeConfig(bytes.NewReader(b))
}
