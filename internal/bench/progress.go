package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/diffperf/diffperf/internal/proc"
)

// Progress hears about each step of a measurement.
type Progress interface {
	// Step is a phase or a decision, in words.
	Step(msg string)
	// RunStart and RunEnd bracket run n of total (both sides counted);
	// side and run name it. failure is "" for a run that worked.
	RunStart(n, total int, side string, run int)
	RunEnd(n, total int, side string, run int, e2eMs float64, res proc.Result, log, failure string)
}

// nopProgress reports nothing.
type nopProgress struct{}

func (nopProgress) Step(string)                                                        {}
func (nopProgress) RunStart(int, int, string, int)                                     {}
func (nopProgress) RunEnd(int, int, string, int, float64, proc.Result, string, string) {}

// TextProgress prints a line when each run starts and one when it ends
// (`run 3/10 head  7.01 s`), and, while a long run goes on, a heartbeat
// with the time elapsed and an estimate of the time left, so that minutes
// of model loading are not silence. Inside GitHub Actions each run is a
// collapsible group that ends with the tail of its log, framed by
// ::stop-commands:: so that none of its lines is read as a workflow
// command. The heartbeat comes after Heartbeat, then at doubling intervals
// up to ten times that: never every second.
type TextProgress struct {
	W       io.Writer
	Actions bool
	// Heartbeat is the delay before the first heartbeat line of a run;
	// 0 means 30 s.
	Heartbeat time.Duration
	// Unit names what is counted: "run" ("" too), or "request" in mode
	// serve, where the estimate of the time left counts the requests and
	// not the server starts still to come.
	Unit string

	mu   sync.Mutex
	stop chan struct{} // ends the running run's heartbeat
	done []time.Duration
}

// defaultHeartbeat is how long a run goes quietly before the first
// heartbeat line.
const defaultHeartbeat = 30 * time.Second

// Step implements Progress.
func (p *TextProgress) Step(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "%s\n", oneLine(msg))
}

// RunStart implements Progress.
func (p *TextProgress) RunStart(n, total int, side string, run int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Actions {
		fmt.Fprintf(p.W, "::group::%s %d/%d %s\n", p.unit(), n, total, side)
	} else {
		fmt.Fprintf(p.W, "%s %d/%d %-4s  started%s\n", p.unit(), n, total, side, p.eta(n, total, 0))
	}
	p.stopHeartbeat()
	p.stop = make(chan struct{})
	go p.heartbeat(p.stop, time.Now(), func(elapsed time.Duration) string {
		return fmt.Sprintf("%s %d/%d %-4s  still running after %s%s", p.unit(), n, total, side, elapsed.Round(time.Second), p.eta(n, total, elapsed))
	})
}

// waiter is a Progress that can also keep a long wait company: a server
// that loads its model before it answers. Waiting prints heartbeats about
// what until the returned function is called.
type waiter interface {
	Waiting(what string) (done func())
}

// Waiting implements waiter.
func (p *TextProgress) Waiting(what string) (done func()) {
	stop := make(chan struct{})
	go p.heartbeat(stop, time.Now(), func(elapsed time.Duration) string {
		return fmt.Sprintf("%s  still starting after %s", oneLine(what), elapsed.Round(time.Second))
	})
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}

// heartbeat prints line(elapsed) now and then until stop is closed.
func (p *TextProgress) heartbeat(stop chan struct{}, start time.Time, line func(elapsed time.Duration) string) {
	wait := p.Heartbeat
	if wait <= 0 {
		wait = defaultHeartbeat
	}
	first := wait
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		select {
		case <-stop: // ended while we waited for the lock
			p.mu.Unlock()
			return
		default:
		}
		fmt.Fprintln(p.W, line(time.Since(start)))
		p.mu.Unlock()
		wait = nextHeartbeat(wait, first)
		t.Reset(wait)
	}
}

// nextHeartbeat is the wait after one of wait: twice as long, up to ten
// times the first.
func nextHeartbeat(wait, first time.Duration) time.Duration { return min(2*wait, 10*first) }

// eta estimates the time left of the measurement from the median of the
// runs that finished, given that the current run has gone elapsed; "" when
// no run has finished yet.
func (p *TextProgress) eta(n, total int, elapsed time.Duration) string {
	if len(p.done) == 0 {
		return ""
	}
	d := slices.Clone(p.done)
	slices.Sort(d)
	per := d[len(d)/2]
	left := max(per-elapsed, 0) + time.Duration(total-n)*per
	if p.Unit == "request" {
		return fmt.Sprintf(", about %s of requests left", left.Round(time.Second))
	}
	return fmt.Sprintf(", about %s left", left.Round(time.Second))
}

func (p *TextProgress) unit() string {
	if p.Unit == "" {
		return "run"
	}
	return p.Unit
}

func (p *TextProgress) stopHeartbeat() {
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

// RunEnd implements Progress.
func (p *TextProgress) RunEnd(n, total int, side string, run int, e2eMs float64, res proc.Result, log, failure string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopHeartbeat()
	if res.Elapsed > 0 {
		p.done = append(p.done, res.Elapsed)
	}
	status := fmt.Sprintf("%.2f s", e2eMs/1000)
	if failure != "" {
		status = "FAILED: " + oneLine(failure)
	}
	if p.Actions {
		WriteUntrusted(p.W, lastLines(res.Tail, 40))
		fmt.Fprintf(p.W, "%s %d/%d %s  %s  (log: %s)\n::endgroup::\n", p.unit(), n, total, side, status, filepath.Base(log))
		return
	}
	fmt.Fprintf(p.W, "%s %d/%d %-4s  %s\n", p.unit(), n, total, side, status)
}

// WriteUntrusted writes text that may contain workflow commands (a
// benchmark's output, a report) to a GitHub Actions log so that none takes
// effect: ::stop-commands:: with a fresh random token before, the token after.
// https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions#stopping-and-starting-workflow-commands
func WriteUntrusted(w io.Writer, text string) {
	if text == "" {
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := "diffperf-" + hex.EncodeToString(b[:])
	fmt.Fprintf(w, "::stop-commands::%s\n%s", token, text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "::%s::\n", token)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
