// Package dashboard renders the history of a repository's benchmarks as a
// static web site: an index of every case with its latest value, its trend
// and its open change points, and a page per case with a chart per metric.
//
// The site needs no server and no network: the charts are inline SVG (no
// JavaScript, no CDN, system fonts), each page carries a Content Security
// Policy that forbids every fetch but its own inline styles, and every
// number of a chart is also in a table under it, so the site reads the same
// without images and to a screen reader. It can be served by GitHub Pages
// (the site has a .nojekyll file), by actions/deploy-pages, or opened from
// a downloaded artifact.
//
// The input is a view model, Site, that says what to draw: the caller
// turns its store of results and its change points into one. The package
// is pure: Files renders a Site into memory and Write puts the files into a
// folder; nothing else touches the file system, the network or the
// environment. The same Site always renders to the same bytes.
//
// Example:
//
//	site := dashboard.Site{
//		RepoURL:   "https://github.com/sgl-project/sglang",
//		Generated: time.Now(),
//		Cases: []dashboard.Case{{
//			Name: "flux t2i 1024", Key: "flux-h100", GPU: "NVIDIA H100 80GB HBM3", Mode: "generate",
//			Metrics: []dashboard.Metric{{
//				Name: "E2E", Unit: "ms", Spread: "min–max",
//				Points: []dashboard.Point{{
//					Commit: "3f2a9c1d0b7e4a5f8c6d2e1b0a9f8e7d6c5b4a39", Subject: "Fuse the VAE decode",
//					Time: time.Date(2026, 1, 8, 9, 30, 0, 0, time.UTC), Median: 812.4, Lo: 803.1, Hi: 821.0, N: 5,
//				}},
//			}},
//		}},
//	}
//	if err := dashboard.Write("site", site); err != nil {
//		return err // the Site is unusable; nothing was written
//	}
package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Site is everything the dashboard shows.
type Site struct {
	// Title heads every page; empty means "diffperf".
	Title string
	// RepoURL is the repository's web address, such as
	// https://github.com/owner/name: a point links to RepoURL/commit/SHA.
	// It must be an absolute http or https URL.
	RepoURL string
	// Generated is when the site was rendered, shown in UTC at the foot of
	// every page. It is an input (not the clock) so that output is
	// deterministic.
	Generated time.Time
	// Cases are shown in this order.
	Cases []Case
}

// Case is one benchmark case: a workload on a GPU in a mode.
type Case struct {
	// Name is the case's name as people read it.
	Name string
	// Key identifies the case; its page is case/<key>.html, with every
	// character outside [A-Za-z0-9._-] replaced (and then a hash of the key
	// added, so that two keys never share a page). Keys must be unique.
	Key string
	// GPU is the GPU that measured the case (e.g. "NVIDIA H100 80GB HBM3").
	GPU string
	// Mode is the case's mode (generate or serve).
	Mode string
	// Metrics are charted in this order.
	Metrics []Metric
}

// Metric is one measured quantity of a case over commits.
type Metric struct {
	// Name is the metric's name, e.g. "E2E" or "denoise step".
	Name string
	// Unit is the unit of the values, e.g. "ms" or "MiB".
	Unit string
	// Spread says what Lo and Hi of each point are, e.g. "min–max" or
	// "95% CI"; empty means "min–max".
	Spread string
	// Points are the measured commits, oldest first.
	Points []Point
	// ChangePoints are the change points found in Points.
	ChangePoints []ChangePoint
	// EnvBreaks are the points measured in a new environment.
	EnvBreaks []EnvBreak
}

// Point is one measured commit of a metric.
type Point struct {
	// Commit is the full commit hash (hexadecimal).
	Commit string
	// Short is the abbreviated hash shown to readers; empty means the
	// first 7 characters of Commit.
	Short string
	// Subject is the commit's subject line when known (only its first line
	// is shown).
	Subject string
	// Time is the commit time; the zero time means unknown.
	Time time.Time
	// Median is the median of the point's samples, in the metric's unit.
	Median float64
	// Lo and Hi bound the point's spread (Metric.Spread says which):
	// Lo <= Median <= Hi. Both equal to Median draws no error bar.
	Lo, Hi float64
	// N is the number of samples (at least 1).
	N int
}

// Status says whether a change point was re-measured and held.
type Status string

// The statuses of a change point.
const (
	// Suspected: found in the stored results, not (yet) confirmed by
	// measuring again. Nobody is told.
	Suspected Status = "suspected"
	// Confirmed: re-measured against the point before it, and the change
	// held.
	Confirmed Status = "confirmed"
)

// ChangePoint is a point at which the metric changed level.
type ChangePoint struct {
	// Index is the first point of the new segment (an index into
	// Metric.Points).
	Index int
	// Commit is that point's commit; it must match Points[Index].Commit.
	Commit string
	// BeforeMedian and AfterMedian are the medians of the segments before
	// and after, in the metric's unit.
	BeforeMedian, AfterMedian float64
	// ChangePct is AfterMedian/BeforeMedian - 1, in percent.
	ChangePct float64
	// P is the p-value of the test across the change point.
	P float64
	// Status is Suspected or Confirmed.
	Status Status
	// IssueURL is the issue that reports the change point, when there is
	// one (an absolute http or https URL).
	IssueURL string
	// Closed is true when the change point's issue was closed (or labelled
	// invalid): the case page still marks it, the index no longer lists it
	// as open.
	Closed bool
}

// EnvBreak is a point measured in an environment that differs from the
// point before it: its change is the runner's, not the code's.
type EnvBreak struct {
	// Index is the first point measured in the new environment.
	Index int
	// Change says what changed, e.g. "driver 580.1 → 580.2".
	Change string
}

// The sizes that keep a page readable however long the history grows.
const (
	// MaxChartPoints is the most points a chart marks one by one: a longer
	// series is thinned to every k-th point (counted back from the latest),
	// plus every point with a change point or an environment break; the
	// median line still goes through every point.
	MaxChartPoints = 500
	// MaxTableRows is the most rows of a metric's table: the latest points,
	// newest first, with a note saying how many are left out.
	MaxTableRows = 50
)

// File is one rendered file of the site.
type File struct {
	// Path is relative to the site's root, with forward slashes.
	Path string
	// Data is the file's content.
	Data []byte
}

// Write renders s and writes its files under dir (created when missing),
// replacing files of the same names and leaving other files alone. When s
// is unusable (see Files) it writes nothing.
func Write(dir string, s Site) error {
	files, err := Files(s)
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("dashboard: %w", err)
		}
	}
	return nil
}

// Files renders s: .nojekyll, index.html and case/<key>.html for each
// case, in that order. Its error names the case, metric and point of s that
// cannot be drawn: a missing or duplicate key, a commit that is not a hash,
// a value that is not finite, a spread that does not hold its median, a
// change point or environment break outside the points, a change point
// whose commit is not its point's, an unknown status, or a URL that is not
// http(s).
func Files(s Site) ([]File, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	files := []File{{Path: ".nojekyll", Data: []byte{}}}
	index, err := renderIndex(s)
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: "index.html", Data: index})
	for _, c := range s.Cases {
		page, err := renderCase(s, c)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: casePath(c.Key), Data: page})
	}
	return files, nil
}

var (
	hexCommit = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
	unsafeKey = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// CasePath is the page of the case with key, relative to the site's root
// (forward slashes, safe in a URL as it is).
func CasePath(key string) string { return casePath(key) }

// casePath is the page of the case with key, relative to the site's root.
func casePath(key string) string {
	name := unsafeKey.ReplaceAllString(key, "-")
	name = strings.TrimLeft(name, ".-")
	if len(name) > 80 {
		name = name[:80]
	}
	name = strings.TrimRight(name, "-")
	if name != key {
		sum := sha256.Sum256([]byte(key))
		if name != "" {
			name += "-"
		}
		name += hex.EncodeToString(sum[:4])
	}
	return "case/" + name + ".html"
}

func (s Site) validate() error {
	if err := checkURL(s.RepoURL); err != nil {
		return fmt.Errorf("dashboard: repository URL: %w", err)
	}
	keys := map[string]bool{}
	for i, c := range s.Cases {
		where := fmt.Sprintf("dashboard: case %d (%q)", i, c.Name)
		switch {
		case c.Key == "":
			return fmt.Errorf("%s: no key", where)
		case keys[c.Key]:
			return fmt.Errorf("%s: key %q is used by an earlier case", where, c.Key)
		}
		keys[c.Key] = true
		for _, m := range c.Metrics {
			if err := m.validate(); err != nil {
				return fmt.Errorf("%s: metric %q: %w", where, m.Name, err)
			}
		}
	}
	return nil
}

func (m Metric) validate() error {
	for i, p := range m.Points {
		switch {
		case !hexCommit.MatchString(p.Commit):
			return fmt.Errorf("point %d: commit %q is not a hexadecimal hash", i, p.Commit)
		case !finite(p.Median, p.Lo, p.Hi):
			return fmt.Errorf("point %d (%s): median %v, spread %v..%v: not finite", i, p.Commit, p.Median, p.Lo, p.Hi)
		case p.Lo > p.Median || p.Hi < p.Median:
			return fmt.Errorf("point %d (%s): spread %v..%v does not hold the median %v", i, p.Commit, p.Lo, p.Hi, p.Median)
		case p.N < 1:
			return fmt.Errorf("point %d (%s): n is %d, want at least 1", i, p.Commit, p.N)
		}
	}
	for _, cp := range m.ChangePoints {
		switch {
		case cp.Index < 0 || cp.Index >= len(m.Points):
			return fmt.Errorf("change point at index %d: outside the %d points", cp.Index, len(m.Points))
		case !strings.EqualFold(cp.Commit, m.Points[cp.Index].Commit):
			return fmt.Errorf("change point at index %d: commit %q is not that point's (%s)", cp.Index, cp.Commit, m.Points[cp.Index].Commit)
		case cp.Status != Suspected && cp.Status != Confirmed:
			return fmt.Errorf("change point at index %d: status %q is neither %q nor %q", cp.Index, cp.Status, Suspected, Confirmed)
		case !finite(cp.BeforeMedian, cp.AfterMedian, cp.ChangePct, cp.P):
			return fmt.Errorf("change point at index %d: a value is not finite", cp.Index)
		}
		if cp.IssueURL != "" {
			if err := checkURL(cp.IssueURL); err != nil {
				return fmt.Errorf("change point at index %d: issue URL: %w", cp.Index, err)
			}
		}
	}
	for _, b := range m.EnvBreaks {
		if b.Index < 0 || b.Index >= len(m.Points) {
			return fmt.Errorf("environment break at index %d: outside the %d points", b.Index, len(m.Points))
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case err != nil:
		return err
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
