package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The accent colour is configured, so its contrast is not known in advance.
// palette derives the colours the stylesheet uses from it so that text stays
// readable (WCAG AA, 4.5:1) in both the light and the dark scheme: button
// text is white or black, whichever reads better on the accent, and links
// and the focus ring use the accent darkened (light scheme) or lightened
// (dark scheme) just enough.

type rgb struct{ r, g, b float64 } // 0..255

// Surfaces the stylesheet puts text on; keep in step with style.css.
var (
	lightSurface = rgb{255, 255, 255}
	darkSurface  = rgb{0x1f, 0x22, 0x29}
	white        = rgb{255, 255, 255}
	black        = rgb{0, 0, 0}
)

func parseHex(s string) (rgb, error) {
	h, ok := strings.CutPrefix(strings.TrimSpace(s), "#")
	if ok && len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if !ok || len(h) != 6 {
		return rgb{}, fmt.Errorf("accent colour must look like #1d4ed8 or #14b, not %q", s)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return rgb{}, fmt.Errorf("accent colour must look like #1d4ed8 or #14b, not %q", s)
	}
	return rgb{float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)}, nil
}

func (c rgb) hex() string {
	return fmt.Sprintf("#%02x%02x%02x", int(math.Round(c.r)), int(math.Round(c.g)), int(math.Round(c.b)))
}

// luminance is WCAG 2's relative luminance.
func (c rgb) luminance() float64 {
	ch := func(v float64) float64 {
		v /= 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
}

// contrast is WCAG 2's contrast ratio, 1..21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func mix(a, b rgb, t float64) rgb {
	return rgb{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t}
}

// readableOn moves c toward toward in small steps until it reaches ratio
// against surface.
func readableOn(c, surface, toward rgb, ratio float64) rgb {
	for t := 0.0; t <= 1; t += 0.02 {
		m := mix(c, toward, t)
		m = rgb{math.Round(m.r), math.Round(m.g), math.Round(m.b)}
		if contrast(m, surface) >= ratio {
			return m
		}
	}
	return toward
}

type palette struct {
	accent, onAccent, linkLight, linkDark rgb
}

func newPalette(accent string) (palette, error) {
	a, err := parseHex(accent)
	if err != nil {
		return palette{}, err
	}
	on := white
	if contrast(black, a) > contrast(white, a) {
		on = black
	}
	return palette{accent: a, onAccent: on,
		linkLight: readableOn(a, lightSurface, black, 4.5),
		linkDark:  readableOn(a, darkSurface, white, 4.5)}, nil
}

// css is the stylesheet's first rule: the brand's colours as variables.
func (p palette) css() string {
	return fmt.Sprintf(":root{--accent:%s;--on-accent:%s;--link:%s}\n"+
		"@media (prefers-color-scheme: dark){:root{--link:%s}}\n",
		p.accent.hex(), p.onAccent.hex(), p.linkLight.hex(), p.linkDark.hex())
}
