package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/report"
)

// The index's trend compares the latest point with the median of the
// TrendPoints points before it (as sglang's nightly benchmark compares a
// run with its last five), and its sparkline draws the last SparkPoints.
const (
	TrendPoints = 5
	SparkPoints = 30
)

type page struct {
	Title     string
	Heading   string
	Root      string // the way back to the site's root: "" or "../"
	Generated string
}

type indexView struct {
	page
	Rows []indexRow
	Open []cpRow
}

type indexRow struct {
	Case, CaseHref, GPU, Mode string
	Metric                    string
	Latest, Spread, Commit    string
	CommitHref                string
	N                         int
	Trend, Spark              string
	Open                      int
	Empty                     bool
}

type cpRow struct {
	Case, CaseHref, Metric   string
	Short, CommitHref        string
	Index                    int
	Change, Before, After, P string
	Status                   string
	IssueURL                 string
	Closed                   bool
}

type caseView struct {
	page
	Case    Case
	Metrics []metricView
}

type metricView struct {
	ID, Name, Unit, Spread string
	Chart                  chart
	CPs                    []cpRow
	Envs                   []envRow
	Rows                   []pointRow
	TableNote              string
}

type envRow struct {
	Index       int
	Short, Href string
	Change      string
}

type pointRow struct {
	Index                int
	Short, Href, Subject string
	Time, Median, Lo, Hi string
	N                    int
	Marks                string
}

func newPage(s Site, heading, root string) page {
	title := s.Title
	if title == "" {
		title = "diffperf"
	}
	full := title
	if heading != "" {
		full = heading + " · " + title
	}
	return page{Title: full, Heading: heading, Root: root, Generated: s.Generated.UTC().Format(time.RFC3339)}
}

func renderIndex(s Site) ([]byte, error) {
	v := indexView{page: newPage(s, "", "")}
	v.Heading = v.Title
	for _, c := range s.Cases {
		href := casePath(c.Key)
		for mi, m := range c.Metrics {
			row := indexRow{Case: c.Name, CaseHref: href + "#m" + fmt.Sprint(mi), GPU: c.GPU, Mode: c.Mode, Metric: m.Name}
			for _, cp := range m.ChangePoints {
				if !cp.Closed {
					row.Open++
				}
			}
			n := len(m.Points)
			if n == 0 {
				row.Empty = true
				v.Rows = append(v.Rows, row)
				continue
			}
			last := m.Points[n-1]
			row.Latest = report.FormatMs(last.Median) + " " + m.Unit
			row.Spread = report.FormatMs(last.Lo) + " to " + report.FormatMs(last.Hi)
			row.N = last.N
			row.Commit, row.CommitHref = shortOf(last), commitURL(s.RepoURL, last.Commit)
			row.Trend = trend(m.Points)
			row.Spark = sparkline(m.Points[max(0, n-SparkPoints):], 120, 28)
			v.Rows = append(v.Rows, row)
		}
	}
	for _, c := range s.Cases {
		for mi, m := range c.Metrics {
			for i := len(m.ChangePoints) - 1; i >= 0; i-- {
				if cp := m.ChangePoints[i]; !cp.Closed {
					v.Open = append(v.Open, newCPRow(s, c, mi, m, cp))
				}
			}
		}
	}
	return execute(indexTmpl, v)
}

// trend is the latest point against the median of the TrendPoints before
// it, in percent; "-" when there is no point before it.
func trend(ps []Point) string {
	n := len(ps)
	if n < 2 {
		return "-"
	}
	var prev []float64
	for _, p := range ps[max(0, n-1-TrendPoints) : n-1] {
		prev = append(prev, p.Median)
	}
	base := report.Median(prev)
	if base == 0 {
		return "-"
	}
	return report.FormatPct((ps[n-1].Median/base - 1) * 100)
}

func newCPRow(s Site, c Case, mi int, m Metric, cp ChangePoint) cpRow {
	p := m.Points[cp.Index]
	return cpRow{
		Case: c.Name, CaseHref: casePath(c.Key) + "#m" + fmt.Sprint(mi), Metric: m.Name,
		Short: shortOf(p), CommitHref: commitURL(s.RepoURL, p.Commit), Index: cp.Index,
		Change: report.FormatPct(cp.ChangePct),
		Before: report.FormatMs(cp.BeforeMedian), After: report.FormatMs(cp.AfterMedian),
		P: report.FormatP(cp.P), Status: string(cp.Status), IssueURL: cp.IssueURL, Closed: cp.Closed,
	}
}

func renderCase(s Site, c Case) ([]byte, error) {
	v := caseView{page: newPage(s, c.Name, "../"), Case: c}
	for mi, m := range c.Metrics {
		mv := metricView{ID: "m" + fmt.Sprint(mi), Name: m.Name, Unit: m.Unit, Spread: spreadOf(m), Chart: buildChart(s.RepoURL, m)}
		marks := map[int][]string{}
		for _, cp := range m.ChangePoints {
			mv.CPs = append(mv.CPs, newCPRow(s, c, mi, m, cp))
			marks[cp.Index] = append(marks[cp.Index], "change point "+report.FormatPct(cp.ChangePct)+" "+string(cp.Status))
		}
		for _, b := range m.EnvBreaks {
			p := m.Points[b.Index]
			mv.Envs = append(mv.Envs, envRow{Index: b.Index, Short: shortOf(p), Href: commitURL(s.RepoURL, p.Commit), Change: b.Change})
			marks[b.Index] = append(marks[b.Index], "environment: "+b.Change)
		}
		n := len(m.Points)
		for i := n - 1; i >= max(0, n-MaxTableRows); i-- {
			p := m.Points[i]
			row := pointRow{
				Index: i, Short: shortOf(p), Href: commitURL(s.RepoURL, p.Commit), Subject: clip(subjectOf(p), 80),
				Median: report.FormatMs(p.Median), Lo: report.FormatMs(p.Lo), Hi: report.FormatMs(p.Hi), N: p.N,
				Marks: strings.Join(marks[i], "; "),
			}
			if !p.Time.IsZero() {
				row.Time = p.Time.UTC().Format("2006-01-02 15:04")
			}
			mv.Rows = append(mv.Rows, row)
		}
		if n > MaxTableRows {
			mv.TableNote = fmt.Sprintf("The table shows the latest %d of the %d points; the chart covers them all.", MaxTableRows, n)
		}
		v.Metrics = append(v.Metrics, mv)
	}
	return execute(caseTmpl, v)
}

func execute(t *template.Template, v any) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("dashboard: render %s: %w", t.Name(), err)
	}
	return b.Bytes(), nil
}

// commitURL is the commit's page; Commit is validated as hexadecimal.
func commitURL(repo, commit string) string {
	return strings.TrimRight(repo, "/") + "/commit/" + url.PathEscape(commit)
}

func shortOf(p Point) string {
	if p.Short != "" {
		return p.Short
	}
	return p.Commit[:min(7, len(p.Commit))]
}

func subjectOf(p Point) string { return strings.TrimSpace(comment.FirstLine(p.Subject)) }

func spreadOf(m Metric) string {
	if m.Spread == "" {
		return "min–max"
	}
	return m.Spread
}

// clip shortens s to at most n runes, with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// The policy forbids every fetch, scripts included: the site works
// without them, and no text that reaches a page can load anything.
const head = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 16px 32px; color: #1f2328; background: #fff; line-height: 1.45; }
a { color: #0969da; }
h1 { font-size: 1.6em; margin: 20px 0 8px; }
h2 { font-size: 1.25em; margin: 28px 0 6px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.meta, .note, footer { color: #59636e; font-size: 0.9em; }
svg.chart { width: 100%; height: auto; display: block; font-size: 12px; }
svg.chart text { fill: #59636e; }
svg.chart .grid { stroke: #eaeef2; }
svg.chart .axis { stroke: #8c959f; }
svg.chart .line { fill: none; stroke: #8c959f; stroke-width: 1; }
svg.chart .pt circle { fill: #0969da; }
svg.chart .pt line { stroke: #54aeff; stroke-width: 1.5; }
svg.chart .pt:hover circle { fill: #cf222e; }
svg.chart .cp line { stroke-width: 2; }
svg.chart .cp.confirmed line { stroke: #cf222e; }
svg.chart .cp.confirmed text { fill: #cf222e; font-weight: 600; }
svg.chart .cp.suspected line { stroke: #bc4c00; stroke-dasharray: 5 3; }
svg.chart .cp.suspected text { fill: #bc4c00; }
svg.chart .cp.closed line { stroke-opacity: 0.4; }
svg.chart .env line { stroke: #8250df; stroke-width: 1.5; stroke-dasharray: 2 3; }
svg.chart .env text { fill: #8250df; }
svg.spark path { fill: none; stroke: #0969da; stroke-width: 1.5; }
.key span { margin-right: 14px; white-space: nowrap; }
.key .k-cp { color: #cf222e; } .key .k-sus { color: #bc4c00; } .key .k-env { color: #8250df; }
.status-confirmed { color: #cf222e; font-weight: 600; } .status-suspected { color: #bc4c00; }
</style>
</head>
<body>
`

const foot = `<footer>Generated {{.Generated}} by diffperf. Each point is the median of its samples; the bar is its spread.</footer>
</body>
</html>
`

const cpTable = `{{define "cps"}}<table>
<thead><tr>{{if .Index}}<th scope="col">Case</th><th scope="col">Metric</th>{{end}}<th scope="col">Commit</th><th scope="col">Point</th><th scope="col">Change</th><th scope="col">Before</th><th scope="col">After</th><th scope="col">p</th><th scope="col">Status</th><th scope="col">Issue</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{if $.Index}}<td><a href="{{.CaseHref}}">{{.Case}}</a></td><td>{{.Metric}}</td>{{end}}<td><a href="{{.CommitHref}}"><code>{{.Short}}</code></a></td><td class="num">{{.Index}}</td><td class="num">{{.Change}}</td><td class="num">{{.Before}}</td><td class="num">{{.After}}</td><td class="num">{{.P}}</td><td class="status-{{.Status}}">{{.Status}}{{if .Closed}} (closed){{end}}</td><td>{{if .IssueURL}}<a href="{{.IssueURL}}">issue</a>{{else}}-{{end}}</td></tr>
{{- end}}
</tbody>
</table>{{end}}`

var indexTmpl = template.Must(template.New("index.html").Funcs(funcs).Parse(head + `<h1>{{.Heading}}</h1>
<p class="meta">The latest value of every case and metric, its trend (the latest point against the median of the ` + fmt.Sprint(TrendPoints) + ` before it; the line draws the last ` + fmt.Sprint(SparkPoints) + ` points), and the change points whose issue is still open.</p>
<h2>Cases</h2>
<table>
<thead><tr><th scope="col">Case</th><th scope="col">GPU</th><th scope="col">Mode</th><th scope="col">Metric</th><th scope="col">Latest</th><th scope="col">Spread</th><th scope="col">n</th><th scope="col">Commit</th><th scope="col">Trend</th><th scope="col">Open change points</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td><a href="{{.CaseHref}}">{{.Case}}</a></td><td>{{.GPU}}</td><td>{{.Mode}}</td><td>{{.Metric}}</td>
{{- if .Empty}}<td colspan="6">no points yet</td>{{else}}<td class="num">{{.Latest}}</td><td class="num">{{.Spread}}</td><td class="num">{{.N}}</td><td><a href="{{.CommitHref}}"><code>{{.Commit}}</code></a></td><td class="num">{{if .Spark}}<svg class="spark" width="120" height="28" viewBox="0 0 120 28" aria-hidden="true"><path d="{{.Spark}}"/></svg> {{end}}{{.Trend}}</td>{{end}}<td class="num">{{.Open}}</td></tr>
{{- end}}
</tbody>
</table>
<h2>Open change points</h2>
{{if .Open}}{{template "cps" (rows true .Open)}}{{else}}<p>No open change points.</p>{{end}}
` + foot + cpTable))

var caseTmpl = template.Must(template.New("case.html").Funcs(funcs).Parse(head + `<p class="meta"><a href="{{.Root}}index.html">All cases</a></p>
<h1>{{.Case.Name}}</h1>
<p class="meta">Key <code>{{.Case.Key}}</code> · GPU {{or .Case.GPU "-"}} · mode {{or .Case.Mode "-"}}</p>
<p class="key">
<span>● median, with its spread as a bar; each point links to its commit</span>
<span class="k-cp">│ confirmed change point</span>
<span class="k-sus">┆ suspected change point</span>
<span class="k-env">┊ environment change</span></p>
{{- range .Metrics}}
<section id="{{.ID}}">
<h2>{{.Name}}{{if .Unit}} ({{.Unit}}){{end}}</h2>
{{- with $c := .Chart}}
{{- if .Points}}
<svg class="chart" viewBox="0 0 {{.W}} {{.H}}" width="{{.W}}" height="{{.H}}" data-metric="{{.Name}}">
<title>{{.Name}}: {{len .Points}} points</title>
{{- range .YTicks}}
<line class="grid" x1="{{$c.Left}}" x2="{{$c.Right}}" y1="{{.Pos}}" y2="{{.Pos}}"/><text x="{{$c.Left}}" y="{{.Pos}}" dx="-6" dy="4" text-anchor="end">{{.Label}}</text>
{{- end}}
<line class="axis" x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}"/>
{{- range .XTicks}}
<text x="{{.Pos}}" y="{{$c.Bottom}}" dy="18" text-anchor="{{.Anchor}}">{{.Label}}</text>
{{- end}}
{{- range .Envs}}
<g class="env" data-index="{{.Index}}"><title>{{.Tip}}</title><line x1="{{.X}}" x2="{{.X}}" y1="{{$c.Top}}" y2="{{$c.Bottom}}"/><text x="{{.LabelX}}" y="{{.LabelY}}" text-anchor="{{.Anchor}}">{{.Label}}</text></g>
{{- end}}
{{- range .CPs}}
<g class="{{.Class}}" data-index="{{.Index}}"><title>{{.Tip}}</title><line x1="{{.X}}" x2="{{.X}}" y1="{{$c.Top}}" y2="{{$c.Bottom}}"/><text x="{{.LabelX}}" y="{{.LabelY}}" text-anchor="{{.Anchor}}">{{.Label}}</text></g>
{{- end}}
<path class="line" d="{{.Line}}"/>
{{- range .Points}}
<a class="pt" href="{{.Href}}" data-index="{{.Index}}"><title>{{.Tip}}</title>{{if .Bar}}<line x1="{{.X}}" x2="{{.X}}" y1="{{.Lo}}" y2="{{.Hi}}"/>{{end}}<circle cx="{{.X}}" cy="{{.Y}}" r="3"/></a>
{{- end}}
</svg>
{{- if .Note}}
<p class="note">{{.Note}}</p>
{{- end}}
{{- else}}
<p>No points yet.</p>
{{- end}}
{{- end}}
{{- if .CPs}}
<h3>Change points</h3>
{{template "cps" (rows false .CPs)}}
{{- end}}
{{- if .Envs}}
<h3>Environment changes</h3>
<ul>
{{- range .Envs}}
<li>point {{.Index}}, <a href="{{.Href}}"><code>{{.Short}}</code></a>: {{.Change}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Rows}}
<table>
<caption>{{.Name}}, newest first: median and spread ({{.Spread}}) in {{or .Unit "the metric's unit"}}</caption>
<thead><tr><th scope="col">Point</th><th scope="col">Commit</th><th scope="col">Subject</th><th scope="col">Time (UTC)</th><th scope="col">Median</th><th scope="col">Low</th><th scope="col">High</th><th scope="col">n</th><th scope="col">Marks</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="num">{{.Index}}</td><td><a href="{{.Href}}"><code>{{.Short}}</code></a></td><td>{{.Subject}}</td><td class="nowrap">{{.Time}}</td><td class="num">{{.Median}}</td><td class="num">{{.Lo}}</td><td class="num">{{.Hi}}</td><td class="num">{{.N}}</td><td>{{.Marks}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .TableNote}}
<p class="note">{{.TableNote}}</p>
{{- end}}
{{- end}}
</section>
{{- end}}
` + foot + cpTable))

// rows pairs a change-point table with where it is shown: the index adds
// the case and metric columns.
func rows(index bool, rows []cpRow) map[string]any {
	return map[string]any{"Index": index, "Rows": rows}
}

var funcs = template.FuncMap{"rows": rows}
