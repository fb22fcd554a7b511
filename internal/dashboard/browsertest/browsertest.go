// Package browsertest opens the dashboard's static site in a real headless
// Chromium, driven through the Chrome DevTools Protocol (chromedp), for the
// tests of the dashboard and of the history job that writes it. It
// collects what a page must not do (console errors, exceptions, failed
// requests, requests that leave the site) and reads the charts as the
// browser drew them.
package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium is the first of Chromium's usual names on PATH, or skips t.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium on PATH (chromium, chromium-browser or google-chrome): the browser test needs one (Debian: apt-get install chromium)")
	return ""
}

// problems collects what a page must not do.
type problems struct {
	mu     sync.Mutex
	origin string
	page   string
	list   []string
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, p.page+": "+fmt.Sprintf(format, args...))
}

func (p *problems) setPage(page string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.page = page
}

func (p *problems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.list
	p.list = nil
	return l
}

// listen runs in chromedp's event loop, so it only records.
func (p *problems) listen(ev any) {
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

// Browser is a headless Chromium on a site served at Origin.
type Browser struct {
	t        testing.TB
	Origin   string
	ctx      context.Context
	problems *problems
}

// Width and Height are the window's size.
const Width, Height = 1000, 800

// New starts Chromium (exe, from Chromium) with a window of Width×Height
// for the site at origin (http://127.0.0.1:PORT); it stops when t ends.
// As root it runs without Chromium's sandbox, which refuses root.
func New(t testing.TB, exe, origin string) *Browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(Width, Height),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) { cmd.WaitDelay = 10 * time.Second }),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	b := &Browser{t: t, Origin: origin, ctx: bctx, problems: &problems{origin: origin, page: "start"}}
	if err := chromedp.Listen(bctx, b.problems.listen); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(Width, Height)); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	return b
}

// Open navigates to path (relative to the origin), waits for the page's
// footer, and fails t when the page does not answer 200; a page wider than
// the window is an error of t.
func (b *Browser) Open(path string) {
	t := b.t
	t.Helper()
	b.problems.setPage(path)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.Origin+"/"+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("open %s: status %d", path, resp.Status)
	}
	if err := chromedp.Do(b.ctx, chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	widths := Evaluate[[]int](b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
	if widths[0] > widths[1] {
		t.Errorf("%s is %d px wide in a window of %d: it scrolls sideways", path, widths[0], widths[1])
	}
}

// Problems are what the pages opened since the last call did that they
// must not: console errors, exceptions, failed or refused requests, and
// requests outside the site.
func (b *Browser) Problems() []string { return b.problems.take() }

// Evaluate runs js in the page and returns its value; an error fails t.
func Evaluate[T any](b *Browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: evaluate: %v", b.problems.page, err)
	}
	return v
}

// Screenshot is a PNG of the window.
func (b *Browser) Screenshot() []byte {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", b.problems.page, err)
	}
	return shot
}

// CaseLinks are the index's links to case pages, in order, without
// fragments.
func (b *Browser) CaseLinks() []string {
	return Evaluate[[]string](b, `[...new Set([...document.querySelectorAll('table tbody tr td:first-child a')].map(a => a.href.split('#')[0]))]`)
}

// Chart is what the browser reports of one chart: its points and markers,
// with their SVG x and their rendered x on the screen.
type Chart struct {
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

// Charts are the open page's charts, in order.
func (b *Browser) Charts() []Chart { return Evaluate[[]Chart](b, readCharts) }
