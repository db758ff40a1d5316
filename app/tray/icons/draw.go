//go:build ignore

// Draw writes the tray icons idle.png, running.png and error.png: the app icon's white "F"
// over a wave on a rounded blue square (build/appicon.sh), redrawn for 32×32 so that it stays
// sharp at 22–32 px, with a badge for the running (a circular arrow) and error (an
// exclamation mark) states. Every pixel is the mean of 16×16 samples of exact shapes, so the
// output depends on nothing but this file. Pixels are fully opaque or fully clear.
//
//	go run draw.go [-o DIR]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/ferrysync/ferry/backend/atomicfile"
)

const (
	size    = 32 // pixels per side
	samples = 16 // samples per pixel per axis
)

type rgba struct{ r, g, b, a float64 } // straight (not premultiplied) colour, 0..1

func hex(v uint32) rgba {
	return rgba{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255, 1}
}

var (
	blueLight = hex(0x3b82f6)
	blueDark  = hex(0x1e40af)
	white     = hex(0xffffff)
	foam      = hex(0xdbeafe)
	green     = hex(0x15803d)
	red       = hex(0xdc2626)
)

// over composites src over dst.
func over(dst, src rgba) rgba {
	a := src.a + dst.a*(1-src.a)
	if a == 0 {
		return rgba{}
	}
	mix := func(s, d float64) float64 { return (s*src.a + d*dst.a*(1-src.a)) / a }
	return rgba{mix(src.r, dst.r), mix(src.g, dst.g), mix(src.b, dst.b), a}
}

func lerp(a, b rgba, t float64) rgba {
	return rgba{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t, a.a + (b.a-a.a)*t}
}

// Signed distances: negative inside.

func roundedSquare(x, y, lo, hi, radius float64) float64 {
	c := (lo + hi) / 2
	half := (hi-lo)/2 - radius
	dx, dy := math.Abs(x-c)-half, math.Abs(y-c)-half
	outside := math.Hypot(math.Max(dx, 0), math.Max(dy, 0))
	return outside + math.Min(math.Max(dx, dy), 0) - radius
}

// segment is the distance to the segment (ax,ay)–(bx,by).
func segment(x, y, ax, ay, bx, by float64) float64 {
	px, py, vx, vy := x-ax, y-ay, bx-ax, by-ay
	t := math.Max(0, math.Min(1, (px*vx+py*vy)/(vx*vx+vy*vy)))
	return math.Hypot(px-vx*t, py-vy*t)
}

// polyline is the distance to a polyline given as x0,y0,x1,y1….
func polyline(x, y float64, pts []float64) float64 {
	d := math.Inf(1)
	for i := 0; i+3 < len(pts); i += 2 {
		d = math.Min(d, segment(x, y, pts[i], pts[i+1], pts[i+2], pts[i+3]))
	}
	return d
}

var wave = func() []float64 {
	var pts []float64
	for i := 0; i <= 64; i++ {
		t := float64(i) / 64
		pts = append(pts, 8+t*16, 24.9-1.2*math.Sin(t*4*math.Pi))
	}
	return pts
}()

// Badge geometry: a disc in the bottom right corner with a transparent moat around it.
const (
	badgeX, badgeY = 24.5, 24.5
	badgeR         = 7.5
	moat           = 1.5
)

type badge int

const (
	noBadge badge = iota
	runningBadge
	errorBadge
)

// sample is the colour at (x, y) in icon units (0..32).
func sample(x, y float64, b badge) rgba {
	var c rgba
	if roundedSquare(x, y, 1, 31, 7) <= 0 {
		c = lerp(blueLight, blueDark, math.Max(0, math.Min(1, (x+y-2)/60)))
	}
	if c.a > 0 {
		stem := segment(x, y, 11.5, 19.5, 11.5, 8)
		top := segment(x, y, 11.5, 8, 20.5, 8)
		bar := segment(x, y, 11.5, 13.5, 17.5, 13.5)
		if math.Min(stem, math.Min(top, bar)) <= 1.9 {
			c = white
		} else if polyline(x, y, wave) <= 1.05 {
			c = foam
		}
	}
	if b == noBadge {
		return c
	}
	d := math.Hypot(x-badgeX, y-badgeY)
	if d <= badgeR+moat {
		c = rgba{}
	}
	if d > badgeR {
		return c
	}
	switch b {
	case runningBadge:
		c = green
		// A circular arrow: an open ring with a head at its clockwise end.
		const ringR, half = 3.9, 0.85
		angle := math.Atan2(y-badgeY, x-badgeX) // 0 at 3 o'clock, clockwise on screen
		inGap := angle > -math.Pi/2 && angle < -math.Pi/2+1.2
		if math.Abs(d-ringR) <= half && !inGap {
			c = white
		}
		// Arrowhead: a triangle pointing clockwise at 12 o'clock, base at the gap's start.
		hx, hy := badgeX-0.2, badgeY-ringR
		if triangle(x, y, hx-0.2, hy-2.6, hx-0.2, hy+2.6, hx+2.7, hy) {
			c = white
		}
	case errorBadge:
		c = red
		if segment(x, y, badgeX, badgeY-3.8, badgeX, badgeY+0.6) <= 1.05 ||
			math.Hypot(x-badgeX, y-(badgeY+3.6)) <= 1.15 {
			c = white
		}
	}
	return c
}

// triangle reports whether (x, y) is inside the triangle abc.
func triangle(x, y, ax, ay, bx, by, cx, cy float64) bool {
	side := func(px, py, qx, qy float64) float64 { return (x-qx)*(py-qy) - (px-qx)*(y-qy) }
	d1, d2, d3 := side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)
	neg := d1 < 0 || d2 < 0 || d3 < 0
	pos := d1 > 0 || d2 > 0 || d3 > 0
	return !(neg && pos)
}

func draw(b badge) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := range size {
		for px := range size {
			// Average premultiplied colour over the samples.
			var r, g, bl, a float64
			for sy := range samples {
				for sx := range samples {
					c := sample(float64(px)+(float64(sx)+0.5)/samples, float64(py)+(float64(sy)+0.5)/samples, b)
					r, g, bl, a = r+c.r*c.a, g+c.g*c.a, bl+c.b*c.a, a+c.a
				}
			}
			// Edges inside the icon are smooth; its outline is not: a pixel is opaque when
			// mostly covered and clear otherwise, because systray turns partly transparent
			// pixels into wrong colours when it converts the PNG to D-Bus' ARGB32.
			out := color.NRGBA{}
			if a >= samples*samples/2 {
				to8 := func(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(1, v)) * 255)) }
				out = color.NRGBA{to8(r / a), to8(g / a), to8(bl / a), 255}
			}
			img.SetNRGBA(px, py, out)
		}
	}
	return img
}

func main() {
	dir := flag.String("o", ".", "output directory")
	flag.Parse()
	for name, b := range map[string]badge{"idle.png": noBadge, "running.png": runningBadge, "error.png": errorBadge} {
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, draw(b)); err != nil {
			fmt.Fprintf(os.Stderr, "draw: encode %s: %v\n", name, err)
			os.Exit(1)
		}
		if err := atomicfile.WriteFile(filepath.Join(*dir, name), buf.Bytes(), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "draw: %v\n", err)
			os.Exit(1)
		}
	}
}
