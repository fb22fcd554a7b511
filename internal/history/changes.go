package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/changepoint"
)

// ChangeMetrics are the metrics whose change points the history job looks
// for: e2e, the denoising step and peak allocated memory.
var ChangeMetrics = []string{"e2e", "denoise.step_median", "memory.peak_allocated"}

// Fingerprint is the environment of a point as the change-point search
// compares it: GPU, GPU count, driver, CUDA and torch. The sglang commit
// and the host's description are left out: the first is the measured code
// itself, the second says nothing the others do not.
func Fingerprint(e Environment) string {
	if e.GPU == "" && e.Driver == "" && e.CUDA == "" && e.Torch == "" {
		return ""
	}
	return fmt.Sprintf("gpu %s ×%d, driver %s, CUDA %s, torch %s", e.GPU, max(e.GPUCount, 1), e.Driver, e.CUDA, e.Torch)
}

// MetricSeries is one case's metric over the store, with its change points.
type MetricSeries struct {
	Key, Case    string // the case's key and name
	Metric       string // the metric's id
	Name, Unit   string
	Points       []Point
	ChangePoints []changepoint.ChangePoint
	EnvBreaks    []changepoint.EnvBreak
}

// SeriesOf turns a point list into the change-point package's series.
func SeriesOf(points []Point) changepoint.Series {
	s := make(changepoint.Series, len(points))
	for i, p := range points {
		s[i] = changepoint.Point{Commit: p.Commit, Samples: p.Samples, Env: Fingerprint(p.Environment)}
	}
	return s
}

// Analyse finds the change points of every case and metric of lines (the
// store's), for the metrics given (ChangeMetrics when nil), cases by key.
// A metric that no line of a case holds is left out.
func Analyse(lines []Line, metrics []string, opt changepoint.Options) ([]MetricSeries, error) {
	if metrics == nil {
		metrics = ChangeMetrics
	}
	var out []MetricSeries
	for _, key := range Keys(lines) {
		series := Series(lines, key)
		for _, id := range metrics {
			pts := Points(series, id)
			if len(pts) == 0 {
				continue
			}
			r, err := changepoint.Detect(SeriesOf(pts), opt)
			if err != nil {
				return nil, fmt.Errorf("case %s, metric %s: %w", key, id, err)
			}
			ms := MetricSeries{Key: key, Metric: id, Points: pts, ChangePoints: r.ChangePoints, EnvBreaks: r.EnvBreaks}
			for _, l := range series {
				if m := l.Metric(id); m != nil {
					ms.Case, ms.Name, ms.Unit = l.Case.Name, m.Name, m.Unit
					break
				}
			}
			out = append(out, ms)
		}
	}
	return out, nil
}

// StateFile is the file of the data branch that records what the history
// job did about change points, one JSON object a line, appended only: a
// later line about the same thing replaces an earlier one.
const StateFile = "state/changepoints.jsonl"

// The kinds of state records.
const (
	// KindConfirmation is a re-measurement of a change point's first
	// commit against the point before it.
	KindConfirmation = "confirmation"
	// KindIssue is the issue that reports the change points at a commit.
	KindIssue = "issue"
	// KindBisect is a bisect workflow dispatched for the change points at
	// a commit whose range spans several commits.
	KindBisect = "bisect"
)

// IssueMoved is the state of an issue record whose change points moved
// to another commit (MovedTo): the issue now reports that one.
const IssueMoved = "moved"

// Record is one line of StateFile.
type Record struct {
	Schema string `json:"schema"` // diffperf.changepoint/v1
	Kind   string `json:"kind"`
	// Commit is the change point's first commit (both kinds).
	Commit string `json:"commit"`
	// Confirmation: the case, the commit measured against, whether the
	// change held, and per metric what the re-measurement said.
	Case      string            `json:"case,omitempty"`
	Against   string            `json:"against,omitempty"`
	Confirmed bool              `json:"confirmed,omitempty"`
	Metrics   []ConfirmedMetric `json:"metrics,omitempty"`
	Failure   string            `json:"failure,omitempty"`
	// Issue: its number, address and state: open, closed, or invalid (a
	// label that says it was wrong); closed and invalid are never
	// re-filed; IssueMoved when its change points moved to MovedTo.
	// Series are the change points it reports, as "<case key>/<metric
	// id>", and Label its label: by them a change point that moved finds
	// its issue again. Bisect: the issue, and the range in Against (good)
	// and Commit (bad).
	Issue      int      `json:"issue,omitempty"`
	IssueURL   string   `json:"issue_url,omitempty"`
	IssueState string   `json:"issue_state,omitempty"`
	MovedTo    string   `json:"moved_to,omitempty"`
	Series     []string `json:"series,omitempty"`
	Label      string   `json:"label,omitempty"`
	// Time is when the record was written, RFC 3339 in UTC.
	Time string `json:"time"`
}

// ConfirmedMetric is what a confirmation found for one metric.
type ConfirmedMetric struct {
	ID        string  `json:"id"`
	ChangePct float64 `json:"change_pct"`
	P         float64 `json:"p"`
	Held      bool    `json:"held"`
}

// RecordSchema is the schema of StateFile's lines.
const RecordSchema = "diffperf.changepoint/v1"

func (r Record) key() string {
	if r.Kind == KindIssue || r.Kind == KindBisect {
		return r.Kind + "\x00" + r.Commit
	}
	return r.Kind + "\x00" + r.Commit + "\x00" + r.Case
}

// State is what StateFile says, the latest record of each thing.
type State struct {
	records map[string]Record
}

// ReadState reads dir's StateFile (a missing file is an empty state). A
// line that does not parse is reported as a Problem and skipped.
func ReadState(dir string) (State, []Problem, error) {
	st := State{records: map[string]Record{}}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(StateFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil, nil
	}
	if err != nil {
		return st, nil, fmt.Errorf("read %s: %w", StateFile, err)
	}
	var problems []Problem
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Schema != RecordSchema || r.Commit == "" {
			if err == nil {
				err = fmt.Errorf("not a %s record", RecordSchema)
			}
			problems = append(problems, Problem{File: StateFile, Line: n, Err: err})
			continue
		}
		st.records[r.key()] = r
	}
	return st, problems, sc.Err()
}

// Confirmation is the latest confirmation of the change point at commit
// of case key.
func (s State) Confirmation(commit, key string) (Record, bool) {
	r, ok := s.records[Record{Kind: KindConfirmation, Commit: commit, Case: key}.key()]
	return r, ok
}

// Issue is the latest issue record of the change points at commit.
func (s State) Issue(commit string) (Record, bool) {
	r, ok := s.records[Record{Kind: KindIssue, Commit: commit}.key()]
	return r, ok
}

// Bisect is the latest bisect dispatched for the change points at commit.
func (s State) Bisect(commit string) (Record, bool) {
	r, ok := s.records[Record{Kind: KindBisect, Commit: commit}.key()]
	return r, ok
}

// SeriesID names a case's metric in an issue record's Series.
func SeriesID(key, metric string) string { return key + "/" + metric }

// IssueFor is the issue record that the change points moved at commit
// belong to: commit's own, else the issue of a change point that moved
// there. A change point has moved when an issue record (not itself moved)
// of another commit with the same label reports one of moved's case and
// metric, and that commit is no longer a change point of any series the
// record reports, yet lies within window points of the new one in the
// series. The first such record wins, by the distance to the new one.
func (s State) IssueFor(commit, label string, moved []Moved, all []MetricSeries, window int) (Record, bool) {
	if r, ok := s.Issue(commit); ok {
		return r, true
	}
	current := map[string]bool{}
	for _, ms := range all {
		for _, cp := range ms.ChangePoints {
			current[SeriesID(ms.Key, ms.Metric)+"\x00"+cp.Commit] = true
		}
	}
	var best Record
	bestDist := -1
	for _, r := range s.records {
		if r.Kind != KindIssue || r.IssueState == IssueMoved || r.Commit == commit || r.Label != label || len(r.Series) == 0 {
			continue
		}
		if slices.ContainsFunc(r.Series, func(id string) bool { return current[id+"\x00"+r.Commit] }) {
			continue // it still stands
		}
		for _, m := range moved {
			if !slices.Contains(r.Series, SeriesID(m.Series.Key, m.Series.Metric)) {
				continue
			}
			at := slices.IndexFunc(m.Series.Points, func(p Point) bool { return p.Commit == r.Commit })
			if at < 0 {
				continue
			}
			d := max(at-m.CP.Index, m.CP.Index-at)
			if d <= window && (bestDist < 0 || d < bestDist || d == bestDist && r.Commit < best.Commit) {
				best, bestDist = r, d
			}
		}
	}
	return best, bestDist >= 0
}

// AppendState appends the records of recs that say something new (not the
// same as the latest record of their thing, time aside) to dir's
// StateFile, and returns how many it wrote.
func AppendState(dir string, recs []Record) (int, error) {
	st, _, err := ReadState(dir)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	n := 0
	for _, r := range recs {
		r.Schema = RecordSchema
		if old, ok := st.records[r.key()]; ok {
			old.Time = r.Time
			if slices.Equal(mustJSON(old), mustJSON(r)) {
				continue
			}
		}
		st.records[r.key()] = r
		buf.Write(mustJSON(r))
		buf.WriteByte('\n')
		n++
	}
	if n == 0 {
		return 0, nil
	}
	path := filepath.Join(dir, filepath.FromSlash(StateFile))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("write %s: %w", StateFile, err)
	}
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 && !strings.HasSuffix(string(old), "\n") {
		buf = *bytes.NewBuffer(append([]byte("\n"), buf.Bytes()...))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", StateFile, err)
	}
	_, werr := f.Write(buf.Bytes())
	if err := errors.Join(werr, f.Close()); err != nil {
		return 0, fmt.Errorf("write %s: %w", StateFile, err)
	}
	return n, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// With is s with recs added, each replacing the earlier record of its
// thing; s itself is left as it was.
func (s State) With(recs ...Record) State {
	out := State{records: make(map[string]Record, len(s.records)+len(recs))}
	for k, r := range s.records {
		out.records[k] = r
	}
	for _, r := range recs {
		r.Schema = RecordSchema
		out.records[r.key()] = r
	}
	return out
}
