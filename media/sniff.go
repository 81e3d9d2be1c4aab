package media

import (
	"bytes"
	"mime"
	"net/http"
	"path"
	"strings"
)

// sniffLen is how much of a file's start sniff looks at.
const sniffLen = 4096

// sniff names the type of a file from its first bytes: our own checks for
// the formats WhatsApp cares about, then net/http's. It returns
// "application/octet-stream" when nothing matches.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("OggS")):
		return "audio/ogg"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		brand := string(head[8:12])
		switch {
		case strings.HasPrefix(brand, "3gp") || strings.HasPrefix(brand, "3g2"):
			return "video/3gpp"
		case brand == "M4A " || brand == "M4B " || brand == "M4P ":
			return "audio/mp4"
		}
		return "video/mp4"
	case bytes.HasPrefix(head, []byte("#!AMR")):
		return "audio/amr"
	case bytes.HasPrefix(head, []byte("ID3")):
		return "audio/mpeg"
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case len(head) >= 4 && head[0] == 0xFF && head[1]&0xE0 == 0xE0:
		// An MPEG audio frame sync: layer 0 is ADTS (AAC), 1–3 MP3/MP2/MP1.
		if (head[1]>>1)&3 == 0 {
			if head[1]&0xF6 == 0xF0 {
				return "audio/aac"
			}
		} else if head[2]&0xF0 != 0xF0 && head[2]&0x0C != 0x0C {
			return "audio/mpeg"
		}
	}
	t := http.DetectContentType(head)
	if t == "application/ogg" {
		return "audio/ogg"
	}
	return normalizeMime(t)
}

// mimeAliases maps names clients and servers use to the canonical ones.
var mimeAliases = map[string]string{
	"image/jpg":         "image/jpeg",
	"image/pjpeg":       "image/jpeg",
	"image/x-png":       "image/png",
	"audio/mp3":         "audio/mpeg",
	"audio/x-mp3":       "audio/mpeg",
	"audio/x-mpeg":      "audio/mpeg",
	"audio/mpeg3":       "audio/mpeg",
	"audio/x-m4a":       "audio/mp4",
	"audio/m4a":         "audio/mp4",
	"audio/x-aac":       "audio/aac",
	"audio/aacp":        "audio/aac",
	"audio/opus":        "audio/ogg",
	"application/ogg":   "audio/ogg",
	"audio/x-amr":       "audio/amr",
	"audio/amr-nb":      "audio/amr",
	"video/3gp":         "video/3gpp",
	"application/mp4":   "video/mp4",
	"video/x-m4v":       "video/mp4",
	"application/x-pdf": "application/pdf",
}

// normalizeMime lowercases a content type, drops its parameters and maps
// aliases; "" if it does not parse.
func normalizeMime(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	t, _, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(t, "/") {
		return ""
	}
	if a, ok := mimeAliases[t]; ok {
		return a
	}
	return t
}

// generic types say nothing about a file's format.
func isGeneric(t string) bool {
	switch t {
	case "", "application/octet-stream", "binary/octet-stream", "application/binary",
		"application/unknown", "application/x-download", "application/force-download":
		return true
	}
	return false
}

// weakSniff types are containers or text that an extension can refine
// (a .docx is a zip, a .csv is text).
func weakSniff(t string) bool {
	return isGeneric(t) || t == "application/zip" || strings.HasPrefix(t, "text/plain") ||
		t == "application/x-ole-storage"
}

// extTypes covers document extensions mime.TypeByExtension may not know
// (its table depends on the system's mime.types).
var extTypes = map[string]string{
	".pdf":  "application/pdf",
	".doc":  "application/msword",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls":  "application/vnd.ms-excel",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt":  "application/vnd.ms-powerpoint",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text",
	".ods":  "application/vnd.oasis.opendocument.spreadsheet",
	".odp":  "application/vnd.oasis.opendocument.presentation",
	".csv":  "text/csv",
	".txt":  "text/plain",
	".json": "application/json",
	".zip":  "application/zip",
	".apk":  "application/vnd.android.package-archive",
	".epub": "application/epub+zip",
	".rtf":  "application/rtf",
	".mp3":  "audio/mpeg",
	".m4a":  "audio/mp4",
	".ogg":  "audio/ogg",
	".opus": "audio/ogg",
	".mp4":  "video/mp4",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".webp": "image/webp",
}

// typeByName guesses a type from a file name's extension; "" if unknown.
func typeByName(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return ""
	}
	if t, ok := extTypes[ext]; ok {
		return t
	}
	return normalizeMime(mime.TypeByExtension(ext))
}

// extFor is a file name extension for a type, for a default name.
func extFor(t string) string {
	if isGeneric(t) {
		return ""
	}
	for ext, et := range extTypes {
		if et == t && ext != ".jpeg" && ext != ".opus" {
			return ext
		}
	}
	if exts, _ := mime.ExtensionsByType(t); len(exts) > 0 {
		return exts[0]
	}
	return ""
}
