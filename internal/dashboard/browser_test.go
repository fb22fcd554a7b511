package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium is the first of Chromium's usual names on PATH, or skips.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium on PATH (chromium, chromium-browser or google-chrome): the browser test needs one (Debian: apt-get install chromium)")
	return ""
}

// pageProblems collects what a page must not do: console errors,
// exceptions, failed or refused requests, and requests that leave the
// site's server.
type pageProblems struct {
	mu     sync.Mutex
	origin string
	page   string
	list   []string
}

func (p *pageProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, p.page+": "+fmt.Sprintf(format, args...))
}

func (p *pageProblems) setPage(page string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.page = page
}

func (p *pageProblems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.list
	p.list = nil
	return l
}

// listen runs in chromedp's event loop, so it only records.
func (p *pageProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value))
			}
			p.add("console.%s %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		p.add("exception %s", ev.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p.add("console error (%s) %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; !strings.HasPrefix(u, p.origin+"/") && !strings.HasPrefix(u, "data:") {
			p.add("request to %s, outside the site", u)
		}
	case *network.EventLoadingFailed:
		p.add("request %s failed: %s %s", ev.RequestID, ev.ErrorText, ev.BlockedReason)
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			p.add("%s answered %d", ev.Response.URL, ev.Response.Status)
		}
	}
}

// chartInfo is what the browser reports of one chart: its points and
// markers, with their SVG x and their rendered x on the screen.
type chartInfo struct {
	Metric string `json:"metric"`
	Points []struct {
		Index int     `json:"index"`
		Href  string  `json:"href"`
		CX    float64 `json:"cx"`
		X     float64 `json:"x"`
		Bars  int     `json:"bars"`
		Title string  `json:"title"`
	} `json:"points"`
	Marks []struct {
		Index int     `json:"index"`
		Class string  `json:"class"`
		X1    float64 `json:"x1"`
		X     float64 `json:"x"`
		Label string  `json:"label"`
	} `json:"marks"`
	Width      float64  `json:"width"`
	TableLinks []string `json:"tableLinks"`
}

const readCharts = `[...document.querySelectorAll('svg.chart')].map(svg => {
  const mid = el => { const r = el.getBoundingClientRect(); return r.left + r.width / 2; };
  const section = svg.closest('section');
  return {
    metric: svg.dataset.metric,
    width: svg.getBoundingClientRect().width,
    points: [...svg.querySelectorAll('a.pt')].map(a => {
      const c = a.querySelector('circle');
      return {index: +a.dataset.index, href: a.href.baseVal, cx: +c.getAttribute('cx'), x: mid(c),
              bars: a.querySelectorAll('line').length, title: a.querySelector('title').textContent};
    }),
    marks: [...svg.querySelectorAll('g.cp, g.env')].map(g => {
      const l = g.querySelector('line');
      return {index: +g.dataset.index, class: g.getAttribute('class'), x1: +l.getAttribute('x1'), x: mid(l),
              label: g.querySelector('text').textContent};
    }),
    tableLinks: [...section.querySelectorAll('table:last-of-type tbody a')].map(a => a.href),
  };
})`

// TestBrowser opens every page of a generated site in a headless Chromium
// and checks what a reader gets: no console error, no failed or outside
// request, every point drawn and linked to its commit, the change point
// and the environment break marked where their points are.
func TestBrowser(t *testing.T) {
	exe := findChromium(t)
	t.Parallel()
	const points, cpAt, envAt = 40, 25, 10
	s := genSite(2, 2, points, cpAt, envAt, 5)
	dir := t.TempDir()
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(1000, 800),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) { cmd.WaitDelay = 10 * time.Second }),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	problems := &pageProblems{origin: srv.URL, page: "start"}
	if err := chromedp.Listen(bctx, problems.listen); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1000, 800)); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	open := func(path string) {
		t.Helper()
		problems.setPage(path)
		resp, err := chromedp.RunResponse(bctx, chromedp.Navigate(srv.URL+"/"+path))
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("open %s: status %d", path, resp.Status)
		}
		if err := chromedp.Do(bctx, chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		widths, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		if widths[0] > widths[1] {
			t.Errorf("%s is %d px wide in a window of %d: it scrolls sideways", path, widths[0], widths[1])
		}
	}

	open("index.html")
	caseLinks, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...new Set([...document.querySelectorAll('table tbody tr td:first-child a')].map(a => a.href.split('#')[0]))]`))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range s.Cases {
		want = append(want, srv.URL+"/"+casePath(c.Key))
	}
	if strings.Join(caseLinks, " ") != strings.Join(want, " ") {
		t.Errorf("the index links to %q, want %q", caseLinks, want)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('table:first-of-type tbody tr').length`))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 4 {
		t.Errorf("the index's table has %d rows, want 4 (2 cases × 2 metrics)", rows)
	}
	for _, p := range problems.take() {
		t.Error(p)
	}

	for ci, c := range s.Cases {
		path := strings.TrimPrefix(caseLinks[min(ci, len(caseLinks)-1)], srv.URL+"/")
		open(path)
		charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartInfo](readCharts))
		if err != nil {
			t.Fatalf("%s: read the charts: %v", path, err)
		}
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
			shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatalf("%s: screenshot: %v", path, err)
			}
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
		for _, p := range problems.take() {
			t.Error(p)
		}
	}
}
