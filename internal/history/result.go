package history

import (
	"errors"
	"fmt"
	"slices"
	"time"

	dumpfmt "github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/report"
)

// Meta is what a line needs that a result.json does not say.
type Meta struct {
	// Key is the case's key; it is made a folder name with KeyDir. Empty:
	// DefaultKey of the result.
	Key string
	// RunTime is when the run measured. Zero: RunTimeOf the result.
	RunTime time.Time
	// CommitTimes are the committer dates of the measured commits, where
	// known; a commit missing here has an empty commit_time.
	CommitTimes map[string]time.Time
	// LoadMs are the warm servers' load times in ms, by side (SideBase,
	// SideHead) and 1-based launch, where known (mode serve); the result's
	// own launches give them otherwise.
	LoadMs map[string]map[int]float64
	// Version is diffperf's version, for the lines' diffperf field.
	Version string
}

// DefaultKey is the key of a result whose caller names none: its case's
// name, else its model, made a folder name with KeyDir. The Action names
// its cases' keys itself.
func DefaultKey(r *report.Result) string {
	name := r.Case
	if name == "" {
		name = r.Model
	}
	return KeyDir(name)
}

// RunTimeOf is the newest dump timestamp of the result's runs (sglang
// writes ISO 8601, with or without an offset; without one it is UTC), and
// false when no run has one that parses.
func RunTimeOf(r *report.Result) (time.Time, bool) {
	var newest time.Time
	for res := r; res != nil; res = res.Confirmation {
		for _, s := range []dumpfmt.Side{res.Base, res.Head} {
			for _, run := range s.Runs {
				if run.Dump == nil {
					continue
				}
				if t, ok := parseTimestamp(run.Dump.Timestamp); ok && t.After(newest) {
					newest = t
				}
			}
		}
	}
	return newest, !newest.IsZero()
}

func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// FromResult builds the lines of a result: for each batch (the result's,
// then its confirming batch's) a line for the base side's commit and one
// for the head side's, each with every metric's samples. A side without
// runs has no line. It fails when a side's commit is unknown or no run
// time can be found.
func FromResult(r *report.Result, m Meta) ([]Line, error) {
	key := KeyDir(m.Key)
	if m.Key == "" {
		key = DefaultKey(r)
	}
	runTime := m.RunTime
	if runTime.IsZero() {
		t, ok := RunTimeOf(r)
		if !ok {
			return nil, errors.New("no run time: no dump has a timestamp, and none was given")
		}
		runTime = t
	}
	serve := false
	for res := r; res != nil; res = res.Confirmation {
		serve = serve || slices.ContainsFunc(append(slices.Clip(res.Base.Runs), res.Head.Runs...), func(run dumpfmt.Run) bool { return run.Launch > 0 })
	}
	mode := "generate"
	if serve {
		mode = "serve"
	}
	b := lineBuilder{meta: m, key: key, name: r.Case, runTime: runTime.UTC().Format(time.RFC3339Nano), mode: mode, env: r.Env}
	var lines []Line
	batch := 1
	for res := r; res != nil; res, batch = res.Confirmation, batch+1 {
		if res.Env != nil {
			b.env = res.Env
		}
		base, err := b.line(res, SideBase, batch, "")
		if err != nil {
			return nil, err
		}
		parent := ""
		if base != nil {
			lines = append(lines, *base)
			parent = base.Commit
		}
		head, err := b.line(res, SideHead, batch, parent)
		if err != nil {
			return nil, err
		}
		if head != nil {
			lines = append(lines, *head)
		}
	}
	if len(lines) == 0 {
		return nil, errors.New("no runs on either side: nothing to keep")
	}
	return lines, nil
}

type lineBuilder struct {
	meta          Meta
	key, name     string
	runTime, mode string
	env           *dumpfmt.Environment
}

// line is one side's line of one batch, nil when the side has no runs.
func (b *lineBuilder) line(r *report.Result, side string, batch int, parent string) (*Line, error) {
	s := r.Base
	if side == SideHead {
		s = r.Head
	}
	var runs []dumpfmt.Run
	for _, run := range s.Runs {
		if run.Dump != nil {
			runs = append(runs, run)
		}
	}
	if len(runs) == 0 {
		return nil, nil
	}
	sglang := commonCommitHash(runs)
	commit := s.SHA
	if commit == "" {
		commit = sglang
	}
	if commit == "" {
		return nil, fmt.Errorf("the %s side names no commit (no sha, and its dumps no common commit_hash): history keeps measured commits", side)
	}
	l := &Line{
		Schema: Schema, Case: Case{Name: b.name, Key: b.key}, Commit: commit, Parent: parent,
		RunTime: b.runTime, Side: side, Batch: batch, Mode: b.mode, Environment: environment(b.env, sglang),
		N: len(runs), Diffperf: b.meta.Version, Metrics: []Metric{},
	}
	if t, ok := b.meta.CommitTimes[commit]; ok {
		l.CommitTime = t.UTC().Format(time.RFC3339Nano)
	}
	if r.Failure != nil {
		l.Failure = r.Failure.Reason
	}
	launches := launchesOf(runs)
	for _, n := range launches {
		ln := Launch{Launch: n}
		if ms, ok := b.meta.LoadMs[side][n]; ok {
			ln.LoadMs = &ms
		} else if i := slices.IndexFunc(r.Launches, func(l report.Launch) bool { return l.Side == side && l.Launch == n && l.LoadMs > 0 }); i >= 0 {
			ms := r.Launches[i].LoadMs // as the run measured it
			ln.LoadMs = &ms
		}
		l.Launches = append(l.Launches, ln)
	}
	per := PerRun
	if b.mode == "serve" {
		per = PerRequest
	}
	// e2e comes from the runs themselves: every request's value even where
	// the result judged launch medians.
	e2e := Metric{ID: report.MetricE2E, Name: "E2E Latency", Unit: "ms", Per: per}
	for _, run := range runs {
		e2e.Samples = append(e2e.Samples, Sample{Value: run.Dump.TotalMs, Run: run.Index, Launch: run.Launch})
	}
	l.Metrics = append(l.Metrics, e2e)
	for _, rm := range r.Metrics {
		if rm.ID == report.MetricE2E {
			continue
		}
		st := rm.Base
		if side == SideHead {
			st = rm.Head
		}
		m := Metric{ID: rm.ID, Name: rm.Name, Unit: rm.Unit, Per: per, Samples: []Sample{}}
		switch {
		case rm.Samples == report.SamplesLaunches:
			m.Per = PerLaunch
			for i, v := range st.Values {
				smp := Sample{Value: v}
				if len(st.Values) == len(launches) {
					smp.Launch = launches[i]
				}
				m.Samples = append(m.Samples, smp)
			}
		default:
			// Values are in run order; when some dumps lacked the metric
			// the runs they belong to are unknown.
			for i, v := range st.Values {
				smp := Sample{Value: v}
				if len(st.Values) == len(runs) {
					smp.Run, smp.Launch = runs[i].Index, runs[i].Launch
				}
				m.Samples = append(m.Samples, smp)
			}
		}
		l.Metrics = append(l.Metrics, m)
	}
	return l, nil
}

// environment is the fingerprint of what the result recorded: the first
// GPU before the runs (after, when only that was read), the number of
// GPUs, and the sglang commit of the side's dumps. result.json does not
// record CUDA or torch yet; they stay empty.
func environment(env *dumpfmt.Environment, sglang string) Environment {
	e := Environment{SGLang: sglang}
	if env == nil {
		return e
	}
	gpus := env.Before
	if len(gpus) == 0 {
		gpus = env.After
	}
	if len(gpus) > 0 {
		e.GPU, e.Driver, e.GPUCount = gpus[0].Name, gpus[0].Driver, len(gpus)
	}
	e.Host = env.Host
	return e
}

// commonCommitHash is the commit_hash every dump names, or "".
func commonCommitHash(runs []dumpfmt.Run) string {
	h := runs[0].Dump.CommitHash
	for _, run := range runs[1:] {
		if run.Dump.CommitHash != h {
			return ""
		}
	}
	return h
}

// launchesOf is the sorted launch numbers of the runs (none in mode
// generate).
func launchesOf(runs []dumpfmt.Run) []int {
	var out []int
	for _, run := range runs {
		if run.Launch > 0 && !slices.Contains(out, run.Launch) {
			out = append(out, run.Launch)
		}
	}
	slices.Sort(out)
	return out
}
