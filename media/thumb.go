package media

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
)

const (
	// ThumbSide is the longest side of a thumbnail in pixels.
	ThumbSide = 96
	// thumbQuality keeps a thumbnail at a few KB.
	thumbQuality = 60
	// thumbMaxPixels: larger images get no thumbnail rather than a decode
	// of hundreds of MB on a small machine.
	thumbMaxPixels = 40_000_000
	// thumbSamples bounds the source pixels averaged per thumbnail pixel
	// per axis: enough for a smooth 96 px image, cheap on a 40 MP one.
	thumbSamples = 4
)

// Thumbnail returns a small JPEG of a JPEG or PNG file (longest side at
// most ThumbSide), or nil for other types and for images above ~40 MP.
func Thumbnail(path, mimetype string) ([]byte, error) {
	switch normalizeMime(mimetype) {
	case "image/jpeg", "image/png":
	default:
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: thumbnail: %w", err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("media: thumbnail: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > thumbMaxPixels {
		return nil, nil
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("media: thumbnail: %w", err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("media: thumbnail: %w", err)
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, shrink(img, ThumbSide), &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, fmt.Errorf("media: thumbnail: %w", err)
	}
	return out.Bytes(), nil
}

// shrink scales img so its longest side is at most side, averaging up to
// thumbSamples² source pixels per output pixel (transparency over white).
func shrink(img image.Image, side int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	tw, th := w, h
	if w >= h && w > side {
		tw, th = side, max(1, h*side/w)
	} else if h > w && h > side {
		tw, th = max(1, w*side/h), side
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	for y := range th {
		y0, y1 := b.Min.Y+y*h/th, b.Min.Y+(y+1)*h/th
		for x := range tw {
			x0, x1 := b.Min.X+x*w/tw, b.Min.X+(x+1)*w/tw
			var r, g, bl, n uint64
			for sy := range thumbSamples {
				py := y0 + (y1-y0)*sy/thumbSamples
				for sx := range thumbSamples {
					px := x0 + (x1-x0)*sx/thumbSamples
					cr, cg, cb, ca := img.At(px, py).RGBA()
					white := 0xFFFF - ca // composite over white
					r += uint64(cr + white)
					g += uint64(cg + white)
					bl += uint64(cb + white)
					n++
				}
			}
			dst.SetRGBA(x, y, color.RGBA{uint8(r / n >> 8), uint8(g / n >> 8), uint8(bl / n >> 8), 0xFF})
		}
	}
	return dst
}
