package mms

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // a GIF is recognised (and passes when small enough), never scaled
	"image/jpeg"
	"image/png"
	"math"

	"golang.org/x/image/draw"
)

// ErrCannotFit is returned when an image cannot be brought under the size
// budget: not a JPEG or PNG, undecodable, too many pixels, or still too
// large at the smallest size tried.
var ErrCannotFit = errors.New("mms: media cannot fit the size limit")

const (
	// maxPixels bounds what FitImage decodes: a small, highly compressed PNG
	// can claim 30 000 × 30 000 pixels and take gigabytes once decoded.
	maxPixels = 40_000_000
	// minSide is the smallest width or height FitImage scales to; below it
	// the picture is useless and the content had better go by SMS.
	minSide = 48
)

// jpegQualities are tried in order at each size: quality first, since a
// smaller picture loses more than a slightly blockier one.
var jpegQualities = []int{85, 70, 55}

// FitImage returns data unchanged with its media type when it is at most
// maxBytes. A larger JPEG is re-encoded with decreasing quality, then scaled
// down keeping its aspect ratio, until it fits; a larger PNG is scaled down
// and stays a PNG when it has transparency, or becomes a JPEG (far smaller
// for photos) when it is opaque. Anything else that is too large, or an
// image that still does not fit at 48 pixels a side, is ErrCannotFit.
func FitImage(data []byte, maxBytes int) (out []byte, mediaType string, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%w: not a JPEG, PNG or GIF image: %w", ErrCannotFit, err)
	}
	mediaType = "image/" + format
	if len(data) <= maxBytes {
		return data, mediaType, nil
	}
	if format != "jpeg" && format != "png" {
		return nil, "", fmt.Errorf("%w: a %s of %d bytes cannot be scaled below %d bytes", ErrCannotFit, mediaType, len(data), maxBytes)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, "", fmt.Errorf("%w: %d×%d pixels is too many to scale", ErrCannotFit, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrCannotFit, err)
	}
	keepPNG := format == "png" && !opaque(img)

	w, h := cfg.Width, cfg.Height
	last := len(data)
	for {
		src := img
		if w != cfg.Width {
			src = scale(img, w, h)
		}
		var enc []byte
		var typ string
		switch {
		case keepPNG:
			// Not at full size: re-encoding the same pixels as PNG rarely
			// gains anything.
			if w != cfg.Width {
				enc, typ = encodePNG(src), "image/png"
			}
		default:
			for _, q := range jpegQualities {
				enc, typ = encodeJPEG(src, q), "image/jpeg"
				if len(enc) <= maxBytes {
					break
				}
			}
		}
		if enc != nil {
			if len(enc) <= maxBytes {
				return enc, typ, nil
			}
			last = len(enc)
		}
		// Bytes grow roughly with the area: aim straight at the budget,
		// with a margin, but shrink by at least 10% and at most half.
		f := math.Sqrt(float64(maxBytes)/float64(last)) * 0.95
		f = min(max(f, 0.5), 0.9)
		nw, nh := int(float64(w)*f), int(float64(h)*f)
		if nw < minSide || nh < minSide {
			break
		}
		w, h = nw, nh
	}
	return nil, "", fmt.Errorf("%w: a %s of %d bytes does not fit %d bytes even at %d×%d", ErrCannotFit, mediaType, len(data), maxBytes, w, h)
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

func scale(img image.Image, w, h int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}

func encodeJPEG(img image.Image, quality int) []byte {
	var b bytes.Buffer
	// Encoding into memory fails only for images with no pixels.
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: quality})
	return b.Bytes()
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	e := png.Encoder{CompressionLevel: png.BestCompression}
	_ = e.Encode(&b, img)
	return b.Bytes()
}
