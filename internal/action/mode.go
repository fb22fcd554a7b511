package action

import (
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/input"
)

// Mode is what one run of the Action does (input mode).
type Mode string

const (
	// ModeGenerate benchmarks base and head, one `sglang generate` process
	// a run: the default.
	ModeGenerate Mode = "generate"
	// ModeCommand answers a /perf comment on a pull request: it checks who
	// asked, pins the PR's head SHA and dispatches the perf workflow. It
	// needs no GPU and runs none of the pull request's code.
	ModeCommand Mode = "command"
	// ModeServe benchmarks base and head through warm servers: a `sglang
	// serve` per side and launch, timed requests over HTTP (serve.go).
	ModeServe Mode = "serve"
	// ModeMerge benchmarks nothing: it merges the result.json files of
	// other jobs (a matrix over runners) into one comment and one gate.
	ModeMerge Mode = "merge"
	// ModeGate benchmarks nothing and needs no GPU: on pull_request_target
	// it re-decides diffperf's commit status when the accept label comes
	// or goes, and holds a fork's pull request at pending until a
	// maintainer's /perf (gate.go in package command).
	ModeGate Mode = "gate"
	// ModeStart benchmarks nothing: the no-GPU first job of a matrix posts
	// the pending status and the measuring line before the cells run.
	ModeStart Mode = "start"
	// ModeHistory measures a push to the default branch (or, on schedule,
	// its tip) against the commit before it, appends both sides to the
	// data branch, and files an issue per confirmed change point
	// (history.go; historyjob.go in package command).
	ModeHistory Mode = "history"
	// ModeBisect finds the first-parent commit between inputs good and
	// bad that made a change, and reports it on the change point's issue
	// or a pull request (bisect.go; bisectjob.go in package command).
	ModeBisect Mode = "bisect"
)

// modes are the values input mode takes, in the order errors list them.
var modes = []Mode{ModeGenerate, ModeServe, ModeCommand, ModeMerge, ModeGate, ModeStart, ModeHistory, ModeBisect}

// ParseMode reads input mode; an unknown mode is an error naming it.
func ParseMode(s string) (Mode, error) {
	names := make([]string, len(modes))
	for i, m := range modes {
		if string(m) == s {
			return m, nil
		}
		names[i] = string(m)
	}
	return "", input.Errorf("mode", "%q is not one of %s", s, strings.Join(names, ", "))
}

// measures reports whether m benchmarks anything (and so needs a model).
func (m Mode) measures() bool {
	return !slices.Contains([]Mode{ModeCommand, ModeGate, ModeStart}, m)
}
