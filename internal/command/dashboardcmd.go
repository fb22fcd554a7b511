package command

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/changepoint"
	"github.com/diffperf/diffperf/internal/dashboard"
	"github.com/diffperf/diffperf/internal/history"
	"github.com/diffperf/diffperf/internal/input"
)

const dashboardUsage = `usage: diffperf dashboard --store DIR --out SITE [--repo-url URL]

Writes the dashboard of a store (a checkout of the data branch): an index
of every case and a page per case with a chart per metric, its change
points (confirmed or suspected, with their issues) and environment
changes. --repo-url is the repository's web address for commit links
(default: GITHUB_SERVER_URL/GITHUB_REPOSITORY when set). See
docs/dashboard.md.`

// cmdDashboard is `diffperf dashboard`.
func cmdDashboard(args []string, e Env) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	store := fs.String("store", "", "the store's folder (a checkout of the data branch)")
	out := fs.String("out", "", "the folder to write the site into")
	repoURL := fs.String("repo-url", "", "the repository's web address, for commit links")
	pos, err := parseFlags(fs, args)
	var h *helpRequest
	if errors.As(err, &h) {
		return &helpRequest{dashboardUsage + "\n\nFlags:\n" + flagUsage(fs)}
	}
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return input.Errorf("dashboard", "takes no arguments, got %q", pos)
	case *out == "":
		return input.Errorf("--out", "required: the folder to write the site into")
	}
	if *repoURL == "" && e.Getenv("GITHUB_REPOSITORY") != "" {
		*repoURL = strings.TrimRight(cmpOr(e.Getenv("GITHUB_SERVER_URL"), "https://github.com"), "/") + "/" + e.Getenv("GITHUB_REPOSITORY")
	}
	if *repoURL == "" {
		return input.Errorf("--repo-url", "required outside GitHub Actions: the repository's web address, e.g. https://github.com/owner/name")
	}
	if _, err := storeFlag(*store); err != nil {
		return err
	}
	if err := writeSite(*store, *out, *repoURL, time.Now()); err != nil {
		var ie *input.Error
		if errors.As(err, &ie) {
			return err
		}
		return input.Wrap("--store", err)
	}
	_, err = fmt.Fprintf(e.Stdout, "dashboard: %s/index.html\n", strings.TrimRight(*out, "/"))
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeSite renders the store at dir (its lines and its change-point
// state) as the dashboard into out.
func writeSite(dir, out, repoURL string, now time.Time) error {
	lines, _, err := history.Store{Dir: dir}.Read()
	if err != nil {
		return err
	}
	st, _, err := history.ReadState(dir)
	if err != nil {
		return err
	}
	site, err := siteOf(lines, st, repoURL, now)
	if err != nil {
		return err
	}
	return dashboard.Write(out, site)
}

// siteOf turns a store into the dashboard's view model: a case per key, a
// metric per analysed metric, each point a commit's median with its
// min–max spread, each change point with its status and issue.
func siteOf(lines []history.Line, st history.State, repoURL string, now time.Time) (dashboard.Site, error) {
	all, err := history.Analyse(lines, nil, changepoint.DefaultOptions())
	if err != nil {
		return dashboard.Site{}, err
	}
	site := dashboard.Site{RepoURL: repoURL, Generated: now.UTC()}
	times := map[string]time.Time{}
	for _, l := range lines {
		if t, err := time.Parse(time.RFC3339Nano, l.CommitTime); err == nil {
			times[l.Commit] = t
		}
	}
	for _, ms := range all {
		if len(site.Cases) == 0 || site.Cases[len(site.Cases)-1].Key != ms.Key {
			c := dashboard.Case{Name: cmpOr(ms.Case, ms.Key), Key: ms.Key}
			if series := history.Series(lines, ms.Key); len(series) > 0 {
				last := series[len(series)-1]
				c.GPU, c.Mode = last.Environment.GPU, last.Mode
			}
			site.Cases = append(site.Cases, c)
		}
		c := &site.Cases[len(site.Cases)-1]
		m := dashboard.Metric{Name: cmpOr(ms.Name, ms.Metric), Unit: ms.Unit, Spread: "min–max"}
		for _, p := range ms.Points {
			lo, hi := slices.Min(p.Samples), slices.Max(p.Samples)
			m.Points = append(m.Points, dashboard.Point{Commit: p.Commit, Time: times[p.Commit], Median: medianOf(p.Samples), Lo: lo, Hi: hi, N: len(p.Samples)})
		}
		for _, cp := range ms.ChangePoints {
			status, url := cpStatus(st, ms.Key, ms.Metric, cp.Commit)
			is, _ := st.Issue(cp.Commit)
			m.ChangePoints = append(m.ChangePoints, dashboard.ChangePoint{Index: cp.Index, Commit: cp.Commit, BeforeMedian: cp.BeforeMedian,
				AfterMedian: cp.AfterMedian, ChangePct: cp.ChangePct, P: cp.P, Status: status, IssueURL: url,
				Closed: status == dashboard.Confirmed && (is.IssueState == "closed" || is.IssueState == "invalid")})
		}
		for _, b := range ms.EnvBreaks {
			m.EnvBreaks = append(m.EnvBreaks, dashboard.EnvBreak{Index: b.Index, Change: envChange(b.From, b.To)})
		}
		c.Metrics = append(c.Metrics, m)
	}
	return site, nil
}

// envChange says what changed between two fingerprints.
func envChange(from, to string) string {
	a, b := strings.Split(from, ", "), strings.Split(to, ", ")
	var parts []string
	for i := range b {
		if i >= len(a) || a[i] != b[i] {
			old := ""
			if i < len(a) {
				_, old, _ = strings.Cut(a[i], " ")
			}
			name, now, _ := strings.Cut(b[i], " ")
			parts = append(parts, fmt.Sprintf("%s %s → %s", name, old, now))
		}
	}
	if len(parts) == 0 {
		return "environment"
	}
	return "env: " + strings.Join(parts, ", ")
}

func medianOf(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
