package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Progress hears about each step of a measurement.
type Progress interface {
	// Step is a phase or a decision, in words.
	Step(msg string)
	// RunStart and RunEnd bracket run n of total (both sides counted);
	// side and run name it. failure is "" for a run that worked.
	RunStart(n, total int, side string, run int)
	RunEnd(n, total int, side string, run int, e2eMs float64, res ProcResult, log, failure string)
}

// NopProgress reports nothing.
type NopProgress struct{}

func (NopProgress) Step(string)                                                       {}
func (NopProgress) RunStart(int, int, string, int)                                    {}
func (NopProgress) RunEnd(int, int, string, int, float64, ProcResult, string, string) {}

// TextProgress prints one line per run for a terminal (`run 3/10 head
// 7.01 s`), or, inside GitHub Actions, a collapsible group per run with the
// end of its log. The benchmark's output is framed by ::stop-commands:: so
// that none of its lines is read as a workflow command.
type TextProgress struct {
	W       io.Writer
	Actions bool
	mu      sync.Mutex
}

// Step implements Progress.
func (p *TextProgress) Step(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "%s\n", oneLine(msg))
}

// RunStart implements Progress.
func (p *TextProgress) RunStart(n, total int, side string, run int) {
	if !p.Actions {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "::group::run %d/%d %s\n", n, total, side)
}

// RunEnd implements Progress.
func (p *TextProgress) RunEnd(n, total int, side string, run int, e2eMs float64, res ProcResult, log, failure string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	status := fmt.Sprintf("%.2f s", e2eMs/1000)
	if failure != "" {
		status = "FAILED: " + oneLine(failure)
	}
	if p.Actions {
		WriteUntrusted(p.W, lastLines(res.Tail, 40))
		fmt.Fprintf(p.W, "run %d/%d %s  %s  (log: %s)\n::endgroup::\n", n, total, side, status, log)
		return
	}
	fmt.Fprintf(p.W, "run %d/%d %-4s  %s\n", n, total, side, status)
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
