// Package history owns the store of results measured on the default
// branch: one JSON line per measured commit and run, kept in files of one
// case and month (history/<case-key>/<yyyy-mm>.jsonl) on a data branch of
// the repository. It builds lines from a result.json, appends them without
// ever rewriting a line, reads them back (reporting, not dropping, a line
// that does not parse), orders a case's lines into a series of commits,
// and publishes an append to the data branch with a bounded retry. See
// docs/history.md for the format, field by field.
package history

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Schema names the line format; it changes only when a field changes
// meaning or goes away. Fields may be added within a version.
const Schema = "diffperf.history/v1"

// The sides a line can come from.
const (
	// SideBase is the commit measured against: the previous tip of the
	// default branch.
	SideBase = "base"
	// SideHead is the measured (pushed) commit.
	SideHead = "head"
)

// What one sample of a metric is (Metric.Per).
const (
	// PerRun: one benchmark process (mode generate).
	PerRun = "run"
	// PerRequest: one measured request to a warm server (mode serve).
	PerRequest = "request"
	// PerLaunch: one warm server launch's median, where the result judged
	// the metric on launch medians because its launches differed.
	PerLaunch = "launch"
)

// Line is one measured commit of one run: the samples of one side of one
// result.json (one batch of it: the confirming batch of a result is a line
// of its own). Every field is documented in docs/history.md.
type Line struct {
	Schema string `json:"schema"`
	Case   Case   `json:"case"`
	// Commit is the measured commit; Parent the commit it was measured
	// against (the base side's commit, for a head line), empty for a base
	// line.
	Commit string `json:"commit"`
	Parent string `json:"parent,omitempty"`
	// CommitTime is the commit's committer date, when known; RunTime is
	// when the run measured it. Both RFC 3339, UTC.
	CommitTime string `json:"commit_time,omitempty"`
	RunTime    string `json:"run_time"`
	// Side is SideBase or SideHead; Batch 1 for the first batch of a run,
	// 2 for its confirming batch.
	Side  string `json:"side"`
	Batch int    `json:"batch"`
	// Mode is the case's mode: "generate" or "serve".
	Mode        string      `json:"mode"`
	Environment Environment `json:"environment"`
	// N is the number of runs (mode serve: measured requests) of the side.
	N int `json:"n"`
	// Launches are the warm server launches of the side (mode serve).
	Launches []Launch `json:"launches,omitempty"`
	Metrics  []Metric `json:"metrics"`
	// Failure is why the run did not finish, when it did not; the samples
	// it measured before are kept.
	Failure string `json:"failure,omitempty"`
	// Diffperf is the version of diffperf that measured the run.
	Diffperf string `json:"diffperf"`
}

// Case names what was measured: Name as the cases list names it (may be
// empty for a job of one case) and Key, the case's folder in the store.
type Case struct {
	Name string `json:"name,omitempty"`
	Key  string `json:"key"`
}

// Environment is the fingerprint of the machine and stack that measured a
// line; a part that the result did not record is empty. A change of any
// part is a break of its own in a series, never blamed on a commit.
type Environment struct {
	GPU      string `json:"gpu"`
	GPUCount int    `json:"gpu_count,omitempty"`
	Driver   string `json:"driver"`
	CUDA     string `json:"cuda"`
	Torch    string `json:"torch"`
	// SGLang is the commit of sglang that the dumps name.
	SGLang string `json:"sglang"`
	Host   string `json:"host,omitempty"`
}

// Launch is one warm server launch of a side: its 1-based number and, when
// known, how long the server took to load, in ms.
type Launch struct {
	Launch int      `json:"launch"`
	LoadMs *float64 `json:"load_ms,omitempty"`
}

// Metric is one metric's raw samples, as the result's metric IDs name
// them: "e2e", "stage:<name>", "denoise.step_median",
// "memory.peak_allocated", ...
type Metric struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Unit string `json:"unit"`
	// Per is what one sample is: PerRun, PerRequest or PerLaunch.
	Per     string   `json:"per"`
	Samples []Sample `json:"samples"`
}

// Sample is one value with where it was measured: Run is the 1-based run
// (or request) number within the side, 0 when unknown or when the sample
// is a launch's median; Launch the 1-based launch (mode serve), else 0.
type Sample struct {
	Value  float64 `json:"value"`
	Run    int     `json:"run,omitempty"`
	Launch int     `json:"launch,omitempty"`
}

// Metric returns the line's metric id, or nil.
func (l *Line) Metric(id string) *Metric {
	for i := range l.Metrics {
		if l.Metrics[i].ID == id {
			return &l.Metrics[i]
		}
	}
	return nil
}

// Values are the metric's sample values in stored order.
func (m *Metric) Values() []float64 {
	v := make([]float64, len(m.Samples))
	for i, s := range m.Samples {
		v[i] = s.Value
	}
	return v
}

// identity tells lines apart: a line appended twice (a retried push that
// had landed, a result added again) has the identity of the first.
func (l *Line) identity() string {
	return strings.Join([]string{l.Case.Key, l.Commit, l.Side, fmt.Sprint(l.Batch), l.RunTime}, "\x00")
}

// Validate reports the first field that makes the line unusable.
func (l *Line) Validate() error {
	switch {
	case l.Schema != Schema:
		return fmt.Errorf("schema %q is not %s", l.Schema, Schema)
	case l.Case.Key == "" || KeyDir(l.Case.Key) != l.Case.Key:
		return fmt.Errorf("case.key %q is not a folder name (letters, digits, ._-, not starting with '.')", l.Case.Key)
	case l.Commit == "":
		return fmt.Errorf("commit is empty")
	case l.Side != SideBase && l.Side != SideHead:
		return fmt.Errorf("side %q is neither %s nor %s", l.Side, SideBase, SideHead)
	case l.Batch < 1:
		return fmt.Errorf("batch %d is not 1 or more", l.Batch)
	}
	if _, err := time.Parse(time.RFC3339Nano, l.RunTime); err != nil {
		return fmt.Errorf("run_time %q is not an RFC 3339 time", l.RunTime)
	}
	if l.CommitTime != "" {
		if _, err := time.Parse(time.RFC3339Nano, l.CommitTime); err != nil {
			return fmt.Errorf("commit_time %q is not an RFC 3339 time", l.CommitTime)
		}
	}
	return nil
}

// Month is the store file's month of the line: its run time's, in UTC.
func (l *Line) Month() string {
	t, err := time.Parse(time.RFC3339Nano, l.RunTime)
	if err != nil {
		return ""
	}
	return t.UTC().Format("2006-01")
}

// parseLine reads one stored line; strict about unknown schema, lenient
// about fields added later within the version.
func parseLine(b []byte) (Line, error) {
	var l Line
	if err := json.Unmarshal(b, &l); err != nil {
		return Line{}, err
	}
	if err := l.Validate(); err != nil {
		return Line{}, err
	}
	return l, nil
}

// KeyDir makes key a safe folder name: every byte outside letters, digits
// and ._- becomes '_', and a leading '.' too, so no key can name a parent
// folder or a hidden one; an empty key is "default", and a key is cut at
// 200 bytes.
func KeyDir(key string) string {
	var b strings.Builder
	for i, r := range key {
		ok := r == '_' || r == '-' || r == '.' && i > 0 ||
			'0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "default"
	}
	return b.String()[:min(b.Len(), maxKeyLen)]
}

// maxKeyLen keeps a case's folder name well inside file systems' 255.
const maxKeyLen = 200
