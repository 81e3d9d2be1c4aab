package api

import "testing"

// TestDisposition: documents and anything a browser could run are
// attachments; names are encoded (RFC 2231) or left out if they cannot be.
func TestDisposition(t *testing.T) {
	for _, tt := range []struct{ typ, mime, name, want string }{
		{"document", "application/pdf", "report.pdf", `attachment; filename=report.pdf`},
		{"document", "image/png", "scan.png", `attachment; filename=scan.png`},
		{"document", "application/pdf", "Bericht März.pdf", `attachment; filename*=utf-8''Bericht%20M%C3%A4rz.pdf`},
		{"image", "image/jpeg", "", `inline`},
		{"image", "image/webp", "", `inline`},
		{"sticker", "image/webp", "", `inline`},
		{"audio", "audio/ogg; codecs=opus", "", `inline`},
		{"video", "video/mp4", "clip.mp4", `inline; filename=clip.mp4`},
		{"image", "image/svg+xml", "", `attachment`},
		{"image", "text/html", "x.html", `attachment; filename=x.html`},
		{"image", "", "", `attachment`},
		{"document", "application/pdf", "a\x00b\r\n.pdf", `attachment; filename*=utf-8''a%00b%0D%0A.pdf`},
	} {
		if got := disposition(tt.typ, tt.mime, tt.name); got != tt.want {
			t.Errorf("disposition(%q, %q, %q) = %q, want %q", tt.typ, tt.mime, tt.name, got, tt.want)
		}
	}
}
