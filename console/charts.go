package console

import (
	"fmt"
	"strconv"
	"strings"
)

// Charts are drawn on the server as SVG: no script, nothing inline that
// the page's Content-Security-Policy would refuse (presentation
// attributes and classes from console.css only). Each has a title and a
// description for screen readers, and its page shows the same numbers in
// a table beside it.

// barChart is a horizontal bar chart: one labelled bar a row.
type barChart struct {
	ID, Title, Desc string
	Width, Height   int
	Bars            []bar
	// Axis is where the bars start; Ticks mark the value axis.
	Axis  float64
	Ticks []tick
	// Bottom is the y of the value axis.
	Bottom float64
}

type bar struct {
	Key, Label string
	Value      int64
	Y, W       float64
	// TextX and TextY place the value's label after the bar.
	TextX, TextY, LabelY float64
}

type tick struct {
	X, Y  float64
	Label string
}

// Bar chart geometry, in the chart's own units (it scales to its box).
const (
	chartWidth   = 800
	barLabelW    = 220
	barRow       = 26
	barThickness = 18
	barValueW    = 70
)

// newBarChart lays out one bar per row, longest for the largest value.
func newBarChart(id, title, desc string, rows []bar) barChart {
	c := barChart{ID: id, Title: title, Desc: desc, Width: chartWidth, Axis: barLabelW}
	var most int64
	for _, r := range rows {
		most = max(most, r.Value)
	}
	span := float64(chartWidth - barLabelW - barValueW)
	for i, r := range rows {
		y := float64(10 + i*barRow)
		r.Y, r.LabelY, r.TextY = y, y+barThickness*0.75, y+barThickness*0.75
		if most > 0 {
			r.W = span * float64(r.Value) / float64(most)
		}
		r.TextX = barLabelW + r.W + 6
		r.Label = shorten(r.Label, 30)
		c.Bars = append(c.Bars, r)
	}
	c.Bottom = float64(10 + len(rows)*barRow)
	c.Height = int(c.Bottom) + 30
	for _, f := range []float64{0, 0.5, 1} {
		c.Ticks = append(c.Ticks, tick{X: barLabelW + span*f, Y: c.Bottom + 18, Label: formatInt(int64(f * float64(most)))})
	}
	return c
}

// lineChart is a line over time with a dot at each point.
type lineChart struct {
	ID, Title, Desc string
	Width, Height   int
	Points          string
	Dots            []dot
	XTicks, YTicks  []tick
	Left, Right     float64
	Top, Bottom     float64
}

type dot struct {
	X, Y  float64
	Label string
	Value int64
}

// Line chart geometry.
const (
	lineHeight = 300
	lineLeft   = 80
	lineRight  = 20
	lineTop    = 20
	lineBottom = 40
)

// newLineChart draws values (oldest first) labelled by labels, from 0 (or
// the lowest value, when one is negative) to the highest.
func newLineChart(id, title, desc string, labels []string, values []int64) lineChart {
	c := lineChart{ID: id, Title: title, Desc: desc, Width: chartWidth, Height: lineHeight,
		Left: lineLeft, Right: chartWidth - lineRight, Top: lineTop, Bottom: lineHeight - lineBottom}
	var lo, hi int64
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		hi = lo + 1
	}
	x := func(i int) float64 {
		if len(values) < 2 {
			return (c.Left + c.Right) / 2
		}
		return c.Left + (c.Right-c.Left)*float64(i)/float64(len(values)-1)
	}
	y := func(v int64) float64 { return c.Bottom - (c.Bottom-c.Top)*float64(v-lo)/float64(hi-lo) }
	pts := make([]string, len(values))
	for i, v := range values {
		d := dot{X: x(i), Y: y(v), Label: labels[i], Value: v}
		c.Dots = append(c.Dots, d)
		pts[i] = strconv.FormatFloat(d.X, 'f', 1, 64) + "," + strconv.FormatFloat(d.Y, 'f', 1, 64)
	}
	c.Points = strings.Join(pts, " ")
	for _, f := range []float64{0, 0.5, 1} {
		v := lo + int64(f*float64(hi-lo))
		c.YTicks = append(c.YTicks, tick{X: c.Left - 8, Y: y(v) + 4, Label: formatInt(v)})
	}
	// At most about six labels along the time axis.
	every := max(1, (len(values)+5)/6)
	for i := 0; i < len(values); i += every {
		c.XTicks = append(c.XTicks, tick{X: x(i), Y: c.Bottom + 22, Label: labels[i]})
	}
	return c
}

// formatInt writes n with thousands separators: 12,345.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shorten cuts a label to n characters, with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// coord writes a coordinate for an SVG attribute.
func coord(f float64) string { return fmt.Sprintf("%.1f", f) }
