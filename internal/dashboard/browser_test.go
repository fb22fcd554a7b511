package dashboard

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/dashboard/browsertest"
)

// TestBrowser opens every page of a generated site in a headless Chromium
// and checks what a reader gets: no console error, no failed or outside
// request, every point drawn and linked to its commit, the change point
// and the environment break marked where their points are.
func TestBrowser(t *testing.T) {
	exe := browsertest.Chromium(t)
	t.Parallel()
	const points, cpAt, envAt = 40, 25, 10
	s := genSite(2, 2, points, cpAt, envAt, 5)
	dir := t.TempDir()
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	b := browsertest.New(t, exe, srv.URL)
	open := b.Open
	open("index.html")
	caseLinks := b.CaseLinks()
	var want []string
	for _, c := range s.Cases {
		want = append(want, srv.URL+"/"+casePath(c.Key))
	}
	if strings.Join(caseLinks, " ") != strings.Join(want, " ") {
		t.Errorf("the index links to %q, want %q", caseLinks, want)
	}
	rows := browsertest.Evaluate[int](b, `document.querySelectorAll('table:first-of-type tbody tr').length`)
	if rows != 4 {
		t.Errorf("the index's table has %d rows, want 4 (2 cases × 2 metrics)", rows)
	}
	for _, p := range b.Problems() {
		t.Error(p)
	}

	for ci, c := range s.Cases {
		path := strings.TrimPrefix(caseLinks[min(ci, len(caseLinks)-1)], srv.URL+"/")
		open(path)
		charts := b.Charts()
		if len(charts) != len(c.Metrics) {
			t.Fatalf("%s: %d charts, want %d", path, len(charts), len(c.Metrics))
		}
		for mi, ch := range charts {
			m := c.Metrics[mi]
			where := fmt.Sprintf("%s chart %q", path, ch.Metric)
			if ch.Metric != m.Name {
				t.Errorf("%s: want the chart of %q", where, m.Name)
			}
			if ch.Width < 300 {
				t.Errorf("%s: %.0f px wide, want the page's width", where, ch.Width)
			}
			if len(ch.Points) != points {
				t.Fatalf("%s: %d points, want %d", where, len(ch.Points), points)
			}
			for i, p := range ch.Points {
				commit := m.Points[i].Commit
				if p.Index != i || p.Href != s.RepoURL+"/commit/"+commit {
					t.Errorf("%s: point %d (index %d) links to %q, want %s/commit/%s", where, i, p.Index, p.Href, s.RepoURL, commit)
				}
				if p.Bars != 1 {
					t.Errorf("%s: point %d has %d error bars, want 1", where, i, p.Bars)
				}
				if !strings.HasPrefix(p.Title, commit[:7]) {
					t.Errorf("%s: point %d's tooltip %q does not start with its commit", where, i, p.Title)
				}
				if i > 0 && p.X <= ch.Points[i-1].X {
					t.Errorf("%s: point %d is drawn at x=%.1f, left of point %d (%.1f)", where, i, p.X, i-1, ch.Points[i-1].X)
				}
			}
			if len(ch.Marks) != 2 {
				t.Fatalf("%s: %d markers, want a change point and an environment break", where, len(ch.Marks))
			}
			for _, mk := range ch.Marks {
				wantIndex, wantClass := cpAt, "cp confirmed"
				if strings.HasPrefix(mk.Class, "env") {
					wantIndex, wantClass = envAt, "env"
				}
				at := ch.Points[wantIndex]
				if mk.Index != wantIndex || mk.Class != wantClass || mk.X1 != at.CX || math.Abs(mk.X-at.X) > 1 {
					t.Errorf("%s: marker %q (%s) at index %d, svg x %.1f, screen x %.1f; want index %d (%s) at point %d's svg x %.1f, screen x %.1f",
						where, mk.Label, mk.Class, mk.Index, mk.X1, mk.X, wantIndex, wantClass, wantIndex, at.CX, at.X)
				}
			}
			if len(ch.TableLinks) != points || ch.TableLinks[0] != s.RepoURL+"/commit/"+m.Points[points-1].Commit {
				t.Errorf("%s: the table has %d commit links, the first %q; want %d, newest first", where, len(ch.TableLinks), ch.TableLinks[:min(1, len(ch.TableLinks))], points)
			}
		}
		if ci == 0 {
			shot := b.Screenshot()
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil {
				t.Fatalf("%s: the screenshot is not a PNG: %v", path, err)
			}
			if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 800 {
				t.Errorf("%s: the screenshot is %dx%d, want the window's 1000x800", path, b.Dx(), b.Dy())
			}
			if *update {
				if err := os.WriteFile(filepath.Join("..", "..", "docs", "dashboard.png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, p := range b.Problems() {
			t.Error(p)
		}
	}
}
