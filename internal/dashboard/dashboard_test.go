package dashboard

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden and docs/dashboard.png")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/dashboard -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

const hostile = `<script>alert(1)</script>"'&`

// smallSite is the golden site: two generated cases and one written by
// hand with hostile text, a suspected and a closed change point, a metric
// with no points and points with no time or subject.
func smallSite() Site {
	s := genSite(2, 2, 12, 8, 4, 5)
	s.Cases = append(s.Cases, Case{
		Name: "wan " + hostile, Key: "wan/i2v " + hostile, GPU: `H200 "SXM"`, Mode: "<serve>",
		Metrics: []Metric{
			{
				Name: "E2E " + hostile, Unit: "ms<i>", Spread: "95% CI",
				Points: []Point{
					{Commit: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Subject: "Fix </title><svg onload=alert(1)>\nsecond line", Median: 10, Lo: 9, Hi: 11, N: 3},
					{Commit: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Short: "bbbb<b>", Median: 10.5, Lo: 10.5, Hi: 10.5, N: 1},
					{Commit: "cccccccccccccccccccccccccccccccccccccccc", Median: 12, Lo: 11.5, Hi: 12.5, N: 3},
					{Commit: "dddddddddddddddddddddddddddddddddddddddd", Median: 12.2, Lo: 11.9, Hi: 12.4, N: 3},
				},
				ChangePoints: []ChangePoint{
					{Index: 2, Commit: "cccccccccccccccccccccccccccccccccccccccc", BeforeMedian: 10.25, AfterMedian: 12.1, ChangePct: 18.05, P: 0.0004, Status: Suspected},
					{Index: 1, Commit: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", BeforeMedian: 10, AfterMedian: 10.5, ChangePct: 5, P: 0.0001, Status: Confirmed,
						IssueURL: `https://github.com/example/sglang/issues/9?x="><script>`, Closed: true},
				},
				EnvBreaks: []EnvBreak{{Index: 3, Change: "torch 2.8 → 2.9 " + hostile}},
			},
			{Name: "peak memory", Unit: "MiB"},
		},
	})
	return s
}

func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := Files(smallSite())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		if f.Path == ".nojekyll" {
			if len(f.Data) != 0 {
				t.Errorf(".nojekyll has %d bytes, want an empty file", len(f.Data))
			}
			continue
		}
		golden(t, f.Path, f.Data)
	}
	want := []string{".nojekyll", "index.html", "case/flux-512-h100.html", "case/flux-1024-h100.html", "case/wan-i2v-script-alert-1-script-f5b87072.html"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	again, err := Files(smallSite())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(files, again); diff != "" {
		t.Errorf("a second rendering differs (-first +second):\n%s", diff)
	}
}

// TestUntrustedTextIsEscaped renders text that would be live markup if it
// reached a page unescaped, in every field that shows text.
func TestUntrustedTextIsEscaped(t *testing.T) {
	t.Parallel()
	files, err := Files(smallSite())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		page := string(f.Data)
		for _, bad := range []string{"<script", "<svg onload", "<b>", "<serve>", "<i>"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s contains %q unescaped", f.Path, bad)
			}
		}
		if f.Path == "case/wan-i2v-script-alert-1-script-f5b87072.html" {
			for _, want := range []string{
				"&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;",
				"bbbb&lt;b&gt;",
				"torch 2.8 → 2.9 &lt;script&gt;",
				"Fix &lt;/title&gt;&lt;svg onload=alert(1)&gt;",
			} {
				if !strings.Contains(page, want) {
					t.Errorf("%s lacks the escaped text %q", f.Path, want)
				}
			}
			if strings.Contains(page, "second line") {
				t.Errorf("%s shows the subject's second line", f.Path)
			}
		}
	}
}

func TestCasePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, want string
	}{
		{"flux-h100", "case/flux-h100.html"},
		{"Flux_1.dev", "case/Flux_1.dev.html"},
		{"flux/h100", "case/flux-h100-dab2406e.html"},
		{"flux h100", "case/flux-h100-308f8fb6.html"},
		{"../../etc/passwd", "case/etc-passwd-3754d6cb.html"},
		{"...", "case/ab5df625.html"},
		{"ü", "case/607474ca.html"},
		{strings.Repeat("a", 100), "case/" + strings.Repeat("a", 80) + "-28165978.html"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := casePath(tt.key)
		if got != tt.want {
			t.Errorf("casePath(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if !regexp.MustCompile(`^case/[A-Za-z0-9_][A-Za-z0-9._-]*\.html$`).MatchString(got) {
			t.Errorf("casePath(%q) = %q: not a plain file name under case/", tt.key, got)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("keys %q and %q share the page %s", other, tt.key, got)
		}
		seen[got] = tt.key
	}
}

func TestBadSite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Site)
		want   string
	}{
		{"no repository URL", func(s *Site) { s.RepoURL = "" }, "repository URL: empty"},
		{"javascript repository URL", func(s *Site) { s.RepoURL = "javascript:alert(1)" }, `"javascript:alert(1)" is not an absolute http(s) URL`},
		{"no key", func(s *Site) { s.Cases[1].Key = "" }, `case 1 ("flux t2i 1024"): no key`},
		{"duplicate key", func(s *Site) { s.Cases[1].Key = s.Cases[0].Key }, `key "flux-512-h100" is used by an earlier case`},
		{"commit not a hash", func(s *Site) { s.Cases[0].Metrics[1].Points[3].Commit = "main; rm -rf /" }, `metric "denoise step": point 3: commit "main; rm -rf /" is not a hexadecimal hash`},
		{"NaN median", func(s *Site) {
			p := &s.Cases[0].Metrics[0].Points[2]
			p.Median, p.Lo, p.Hi = math.NaN(), math.NaN(), math.NaN()
		}, "point 2 ("},
		{"spread without its median", func(s *Site) { s.Cases[0].Metrics[0].Points[5].Lo = 1e9 }, "does not hold the median"},
		{"n of 0", func(s *Site) { s.Cases[0].Metrics[0].Points[0].N = 0 }, "n is 0, want at least 1"},
		{"change point past the end", func(s *Site) { s.Cases[0].Metrics[0].ChangePoints[0].Index = 12 }, "change point at index 12: outside the 12 points"},
		{"change point on another commit", func(s *Site) { s.Cases[0].Metrics[0].ChangePoints[0].Index = 7 }, "change point at index 7: commit"},
		{"unknown status", func(s *Site) { s.Cases[0].Metrics[0].ChangePoints[0].Status = "maybe" }, `status "maybe" is neither "suspected" nor "confirmed"`},
		{"javascript issue URL", func(s *Site) { s.Cases[0].Metrics[0].ChangePoints[0].IssueURL = "javascript:alert(1)" }, "issue URL:"},
		{"environment break before the start", func(s *Site) { s.Cases[1].Metrics[0].EnvBreaks[0].Index = -1 }, "environment break at index -1: outside the 12 points"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := genSite(2, 2, 12, 8, 4, 5)
			tt.change(&s)
			dir := t.TempDir()
			err := Write(dir, s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write: %v, want an error containing %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("Write of an unusable site left %d files in its folder", len(entries))
			}
		})
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "site", "docs")
	s := smallSite()
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	files, err := Files(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(f.Data) {
			t.Errorf("%s on disk differs from Files' rendering", f.Path)
		}
	}
}

// TestLongHistory renders a case of 2,000 points: the chart is thinned,
// the table keeps the latest rows, and every marked point is still drawn.
func TestLongHistory(t *testing.T) {
	t.Parallel()
	s := genSite(1, 1, 2000, 1234, 777, 3)
	files, err := Files(s)
	if err != nil {
		t.Fatal(err)
	}
	page := string(files[2].Data)
	points := regexp.MustCompile(`<a class="pt" href="[^"]*" data-index="(\d+)">`).FindAllStringSubmatch(page, -1)
	drawn := map[string]bool{}
	for _, m := range points {
		drawn[m[1]] = true
	}
	if len(points) > MaxChartPoints+2 || len(points) < MaxChartPoints-2 {
		t.Errorf("the chart marks %d points, want about %d", len(points), MaxChartPoints)
	}
	for _, i := range []string{"1999", "1234", "777", "3"} {
		if !drawn[i] {
			t.Errorf("point %s is not drawn", i)
		}
	}
	if drawn["1998"] {
		t.Errorf("point 1998 is drawn: the chart is not thinned")
	}
	if got := strings.Count(page, `<tr><td class="num">`); got != MaxTableRows {
		t.Errorf("the table has %d rows, want %d", got, MaxTableRows)
	}
	for _, want := range []string{
		"The table shows the latest 50 of the 2000 points",
		"The chart marks 502 of the 2000 points (every 4th point counted back from the latest",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks the note %q", want)
		}
	}
	if got := strings.Count(regexp.MustCompile(`<path class="line" d="[^"]*"`).FindString(page), " L"); got != 1999 {
		t.Errorf("the median line has %d segments, want 1999 (through every point)", got)
	}
}

func TestShown(t *testing.T) {
	t.Parallel()
	metric := func(n int, marked ...int) Metric {
		m := Metric{Points: make([]Point, n)}
		for _, i := range marked {
			m.EnvBreaks = append(m.EnvBreaks, EnvBreak{Index: i})
		}
		return m
	}
	tests := []struct {
		name       string
		m          Metric
		wantLen    int
		wantStride int
		first      int
	}{
		{"small: all", metric(40), 40, 1, 0},
		{"at the limit: all", metric(MaxChartPoints), MaxChartPoints, 1, 0},
		{"one over: every 2nd from the latest", metric(MaxChartPoints + 1), 251, 2, 0},
		{"2000: every 4th", metric(2000), 500, 4, 3},
		{"2000 with a mark off the stride", metric(2000, 0), 501, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idx, stride := shown(tt.m)
			if len(idx) != tt.wantLen || stride != tt.wantStride || idx[0] != tt.first || idx[len(idx)-1] != len(tt.m.Points)-1 {
				t.Errorf("shown: %d points, stride %d, first %d, last %d; want %d, %d, %d, %d",
					len(idx), stride, idx[0], idx[len(idx)-1], tt.wantLen, tt.wantStride, tt.first, len(tt.m.Points)-1)
			}
		})
	}
}

func TestTrend(t *testing.T) {
	t.Parallel()
	pts := func(v ...float64) []Point {
		var ps []Point
		for _, x := range v {
			ps = append(ps, Point{Median: x})
		}
		return ps
	}
	tests := []struct {
		name string
		ps   []Point
		want string
	}{
		{"one point", pts(10), "-"},
		{"two points", pts(10, 11), "+10.0%"},
		{"median of the five before, not the first", pts(1000, 10, 10, 20, 10, 10, 9), "-10.0%"},
		{"zero base", pts(0, 5), "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := trend(tt.ps); got != tt.want {
				t.Errorf("trend = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIndexListsOpenChangePointsOnly(t *testing.T) {
	t.Parallel()
	files, err := Files(smallSite())
	if err != nil {
		t.Fatal(err)
	}
	index := string(files[1].Data)
	_, open, _ := strings.Cut(index, "<h2>Open change points</h2>")
	// The generated cases' confirmed change points and the hand-written
	// suspected one are open; the closed one (at bbbb<b>) is not.
	if got := strings.Count(open, "<tr><td><a href=\"case/"); got != 5 {
		t.Errorf("the index lists %d open change points, want 5", got)
	}
	if strings.Contains(open, "bbbb&lt;b&gt;") {
		t.Errorf("the index lists the closed change point")
	}
}

// BenchmarkLongHistory renders a case of 4 metrics × 2,000 points.
func BenchmarkLongHistory(b *testing.B) {
	s := genSite(1, 4, 2000, 1234, 777, 3)
	b.ReportAllocs()
	for b.Loop() {
		files, err := Files(s)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(files[2].Data))/1024, "KiB/page")
	}
}
