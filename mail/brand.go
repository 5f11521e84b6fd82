package mail

import (
	"github.com/canopyhq/canopy"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Defaults of the brand, used for fields that are empty or invalid.
const (
	DefaultBrandName    = "Canopy"
	DefaultPrimaryColor = "#334155" // slate: neutral, white text on it passes WCAG AA
)

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// normalizedBrand returns the brand with defaults applied and unsafe
// values dropped, so that templates never see a value that needs checking:
// the name defaults to "Canopy"; the color must be #rgb or #rrggbb, because
// it lands in inline CSS; a logo must be an absolute https URL.
func normalizedBrand(b canopy.Brand) canopy.Brand {
	b.Name = singleLine(b.Name)
	if b.Name == "" {
		b.Name = DefaultBrandName
	}
	b.PrimaryColor = strings.TrimSpace(b.PrimaryColor)
	if !hexColor.MatchString(b.PrimaryColor) {
		b.PrimaryColor = DefaultPrimaryColor
	}
	b.LogoURL = strings.TrimSpace(b.LogoURL)
	if u, err := url.Parse(b.LogoURL); err != nil || u.Scheme != "https" || u.Host == "" {
		b.LogoURL = ""
	}
	return b
}

// Text colors for use on the primary color.
const (
	lightText = "#ffffff"
	darkText  = "#1f2937"
)

// textOn returns the text color (white or near-black) with the higher
// contrast on the given background, so that a reseller's yellow button does
// not carry white text nobody can read.
func textOn(bg string) string {
	if !hexColor.MatchString(bg) {
		return lightText
	}
	l := luminance(bg)
	onWhite := (1 + 0.05) / (l + 0.05)
	onDark := (l + 0.05) / (luminance(darkText) + 0.05)
	if onWhite >= onDark {
		return lightText
	}
	return darkText
}

// luminance is the WCAG 2 relative luminance of a #rgb or #rrggbb color.
func luminance(color string) float64 {
	h := color[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		s := float64(v) / 255
		if s <= 0.04045 {
			s /= 12.92
		} else {
			s = math.Pow((s+0.055)/1.055, 2.4)
		}
		c[i] = s
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

// singleLine collapses every run of whitespace and control characters into
// one space, so that values going into a header (a subject, a name) cannot
// break it into two lines.
func singleLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
