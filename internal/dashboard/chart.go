package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/diffperf/diffperf/internal/report"
)

// The chart's geometry, in SVG user units (the chart scales to its box).
const (
	chartW      = 880
	chartH      = 300
	plotLeft    = 72
	plotRight   = chartW - 16
	plotTop     = 44
	plotBottom  = chartH - 36
	xTickTarget = 6
)

// chart is what the chart template draws, every coordinate already
// formatted.
type chart struct {
	Name   string
	W, H   int
	Left   string
	Right  string
	Top    string
	Bottom string
	YTicks []tick
	XTicks []tick
	Line   string
	Points []chartPoint
	CPs    []cpMark
	Envs   []envMark
	Note   string
}

type tick struct {
	Pos    string
	Label  string
	Anchor string
}

type chartPoint struct {
	Index int
	X, Y  string
	// Lo and Hi are the ends of the error bar; Bar is false when the
	// spread is empty.
	Lo, Hi string
	Bar    bool
	Href   string
	Tip    string
}

type cpMark struct {
	Index  int
	X      string
	LabelX string
	LabelY string
	Anchor string
	Label  string
	Tip    string
	Class  string
}

type envMark struct {
	Index  int
	X      string
	LabelX string
	LabelY string
	Anchor string
	Label  string
	Tip    string
}

// coord formats an SVG coordinate: one decimal is finer than a pixel.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// xOf is the x position of point i of n.
func xOf(i, n int) float64 {
	if n <= 1 {
		return (plotLeft + plotRight) / 2
	}
	return plotLeft + float64(i)*(plotRight-plotLeft)/float64(n-1)
}

// yScale maps values to y positions over [lo, hi].
type yScale struct{ lo, hi float64 }

func (s yScale) y(v float64) float64 {
	return plotBottom - (v-s.lo)/(s.hi-s.lo)*(plotBottom-plotTop)
}

// niceStep is 1, 2 or 5 times a power of ten, near span/target.
func niceStep(span float64, target int) float64 {
	raw := span / float64(target)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// scaleFor is a y range that holds every point's spread, padded, with
// round ticks.
func scaleFor(ps []Point) (yScale, []float64, int) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		lo, hi = math.Min(lo, p.Lo), math.Max(hi, p.Hi)
	}
	if hi-lo <= 0 {
		pad := math.Max(math.Abs(hi)*0.05, 1)
		lo, hi = lo-pad, hi+pad
	}
	pad := (hi - lo) * 0.08
	lo, hi = lo-pad, hi+pad
	step := niceStep(hi-lo, 5)
	decimals := max(0, -int(math.Floor(math.Log10(step))))
	var ticks []float64
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, v)
	}
	return yScale{lo, hi}, ticks, decimals
}

// shown is the indices of the points the chart marks one by one: all of
// them up to MaxChartPoints, else every k-th counted back from the latest
// and every marked point.
func shown(m Metric) ([]int, int) {
	n := len(m.Points)
	stride := 1
	if n > MaxChartPoints {
		stride = (n + MaxChartPoints - 1) / MaxChartPoints
	}
	marked := map[int]bool{}
	for _, cp := range m.ChangePoints {
		marked[cp.Index] = true
	}
	for _, b := range m.EnvBreaks {
		marked[b.Index] = true
	}
	var idx []int
	for i := range n {
		if (n-1-i)%stride == 0 || marked[i] {
			idx = append(idx, i)
		}
	}
	return idx, stride
}

func buildChart(repo string, m Metric) chart {
	n := len(m.Points)
	c := chart{
		Name: m.Name, W: chartW, H: chartH,
		Left: coord(plotLeft), Right: coord(plotRight), Top: coord(plotTop), Bottom: coord(plotBottom),
	}
	if n == 0 {
		return c
	}
	sc, ticks, decimals := scaleFor(m.Points)
	for _, v := range ticks {
		c.YTicks = append(c.YTicks, tick{Pos: coord(sc.y(v)), Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	xstep := max(1, (n+xTickTarget-1)/xTickTarget)
	for i := n - 1; i >= 0; i -= xstep {
		x := xOf(i, n)
		anchor := "middle"
		if x > chartW-50 {
			anchor = "end"
		}
		c.XTicks = append([]tick{{Pos: coord(x), Label: xLabel(m.Points[i]), Anchor: anchor}}, c.XTicks...)
	}

	var line strings.Builder
	for i, p := range m.Points {
		if i == 0 {
			line.WriteString("M")
		} else {
			line.WriteString(" L")
		}
		line.WriteString(coord(xOf(i, n)) + " " + coord(sc.y(p.Median)))
	}
	c.Line = line.String()

	idx, stride := shown(m)
	for _, i := range idx {
		p := m.Points[i]
		c.Points = append(c.Points, chartPoint{
			Index: i,
			X:     coord(xOf(i, n)), Y: coord(sc.y(p.Median)),
			Lo: coord(sc.y(p.Lo)), Hi: coord(sc.y(p.Hi)), Bar: p.Hi > p.Lo,
			Href: commitURL(repo, p.Commit),
			Tip:  pointTip(m, i),
		})
	}
	if stride > 1 {
		c.Note = fmt.Sprintf("The chart marks %d of the %d points (every %s point counted back from the latest, and every point with a change point or an environment break); its line goes through all of them.",
			len(idx), n, ordinal(stride))
	}

	for k, cp := range m.ChangePoints {
		x := xOf(cp.Index, n)
		lx, anchor := labelPos(x)
		label := report.FormatPct(cp.ChangePct) + " " + string(cp.Status)
		class := "cp " + string(cp.Status)
		if cp.Closed {
			label += " (closed)"
			class += " closed"
		}
		c.CPs = append(c.CPs, cpMark{
			Index: cp.Index, X: coord(x), LabelX: coord(lx), Anchor: anchor,
			LabelY: coord(float64(plotTop - 8 - 14*(k%2))),
			Label:  label, Class: class,
			Tip: fmt.Sprintf("Change point (%s) at %s: %s → %s %s (%s, p=%s)", cp.Status, shortOf(m.Points[cp.Index]),
				report.FormatMs(cp.BeforeMedian), report.FormatMs(cp.AfterMedian), m.Unit, report.FormatPct(cp.ChangePct), report.FormatP(cp.P)),
		})
	}
	for k, b := range m.EnvBreaks {
		x := xOf(b.Index, n)
		lx, anchor := labelPos(x)
		c.Envs = append(c.Envs, envMark{
			Index: b.Index, X: coord(x), LabelX: coord(lx), Anchor: anchor,
			LabelY: coord(float64(plotBottom - 6 - 14*(k%2))),
			Label:  "env: " + clip(b.Change, 40),
			Tip:    fmt.Sprintf("Environment change at %s: %s", shortOf(m.Points[b.Index]), b.Change),
		})
	}
	return c
}

// labelPos keeps a marker's label inside the chart.
func labelPos(x float64) (float64, string) {
	switch {
	case x > plotRight-90:
		return x - 4, "end"
	case x < plotLeft+90:
		return x + 4, "start"
	}
	return x, "middle"
}

func xLabel(p Point) string {
	if p.Time.IsZero() {
		return shortOf(p)
	}
	return p.Time.UTC().Format("2006-01-02")
}

func pointTip(m Metric, i int) string {
	p := m.Points[i]
	var b strings.Builder
	fmt.Fprintf(&b, "%s", shortOf(p))
	if s := subjectOf(p); s != "" {
		fmt.Fprintf(&b, " %s", clip(s, 100))
	}
	fmt.Fprintf(&b, "\n%s: %s %s (%s %s to %s, n=%d)", m.Name, report.FormatMs(p.Median), m.Unit,
		spreadOf(m), report.FormatMs(p.Lo), report.FormatMs(p.Hi), p.N)
	if !p.Time.IsZero() {
		fmt.Fprintf(&b, "\n%s", p.Time.UTC().Format("2006-01-02 15:04 MST"))
	}
	return b.String()
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// sparkline is the path of a small trend line of the last points.
func sparkline(ps []Point, w, h float64) string {
	if len(ps) < 2 {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		lo, hi = math.Min(lo, p.Median), math.Max(hi, p.Median)
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(" L")
		} else {
			b.WriteString("M")
		}
		x := 1 + float64(i)*(w-2)/float64(len(ps)-1)
		y := h - 2 - (p.Median-lo)/(hi-lo)*(h-4)
		b.WriteString(coord(x) + " " + coord(y))
	}
	return b.String()
}
