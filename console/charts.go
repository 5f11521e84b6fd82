package console

import (
	"strconv"
	"strings"
)

// Charts are drawn on the server as SVG: no script, nothing inline that
// the page's Content-Security-Policy would refuse (presentation
// attributes and classes from console.css only). Each has a title and a
// description for screen readers, and its page shows the same numbers in
// a table beside it.

// The charts' coordinates and amounts are written out here, not by
// template functions: a page's chart has hundreds of them, and each
// template call is a reflective call (the credits page spent more time on
// them than on its queries).

// barChart is a horizontal bar chart: one labelled bar a row.
type barChart struct {
	ID, Title, Desc string
	Width, Height   int
	Bars            []bar
	// Axis is where the bars start, LabelX where their labels end; Ticks
	// mark the value axis.
	Axis, LabelX string
	Ticks        []tick
	// Bottom is the y of the value axis.
	Bottom string
}

type bar struct {
	Key, Label string
	Value      int64
	// Amount is Value as the page writes it.
	Amount string
	Y, W   string
	// TextX and TextY place the value's label after the bar.
	TextX, TextY, LabelY string
}

type tick struct {
	X, Y  string
	Label string
	// GridY is the y of a horizontal grid line through the tick.
	GridY string
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
	c := barChart{ID: id, Title: title, Desc: desc, Width: chartWidth, Axis: coord(barLabelW), LabelX: coord(barLabelW - 8)}
	var most int64
	for _, r := range rows {
		most = max(most, r.Value)
	}
	span := float64(chartWidth - barLabelW - barValueW)
	for i, r := range rows {
		y := float64(10 + i*barRow)
		var w float64
		if most > 0 {
			w = span * float64(r.Value) / float64(most)
		}
		r.Y, r.W, r.LabelY = coord(y), coord(w), coord(y+barThickness*0.75)
		r.TextX, r.TextY = coord(barLabelW+w+6), r.LabelY
		r.Label = shorten(r.Label, 30)
		r.Amount = formatInt(r.Value)
		c.Bars = append(c.Bars, r)
	}
	bottom := float64(10 + len(rows)*barRow)
	c.Bottom = coord(bottom)
	c.Height = int(bottom) + 30
	for _, f := range []float64{0, 0.5, 1} {
		c.Ticks = append(c.Ticks, tick{X: coord(barLabelW + span*f), Y: coord(bottom + 18), Label: formatInt(int64(f * float64(most)))})
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
	Left, Right     string
	Top, Bottom     string
}

type dot struct {
	X, Y  string
	Label string
	Value int64
	// Amount is Value as the page writes it.
	Amount string
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
	left, right, top, bottom := float64(lineLeft), float64(chartWidth-lineRight), float64(lineTop), float64(lineHeight-lineBottom)
	c := lineChart{ID: id, Title: title, Desc: desc, Width: chartWidth, Height: lineHeight,
		Left: coord(left), Right: coord(right), Top: coord(top), Bottom: coord(bottom)}
	var lo, hi int64
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		hi = lo + 1
	}
	x := func(i int) float64 {
		if len(values) < 2 {
			return (left + right) / 2
		}
		return left + (right-left)*float64(i)/float64(len(values)-1)
	}
	y := func(v int64) float64 { return bottom - (bottom-top)*float64(v-lo)/float64(hi-lo) }
	pts := make([]string, len(values))
	for i, v := range values {
		d := dot{X: coord(x(i)), Y: coord(y(v)), Label: labels[i], Value: v, Amount: formatInt(v)}
		c.Dots = append(c.Dots, d)
		pts[i] = d.X + "," + d.Y
	}
	c.Points = strings.Join(pts, " ")
	for _, f := range []float64{0, 0.5, 1} {
		v := lo + int64(f*float64(hi-lo))
		c.YTicks = append(c.YTicks, tick{X: coord(left - 8), Y: coord(y(v) + 4), GridY: coord(y(v)), Label: formatInt(v)})
	}
	// At most about six labels along the time axis.
	every := max(1, (len(values)+5)/6)
	for i := 0; i < len(values); i += every {
		c.XTicks = append(c.XTicks, tick{X: coord(x(i)), Y: coord(bottom + 22), Label: labels[i]})
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
func coord(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
