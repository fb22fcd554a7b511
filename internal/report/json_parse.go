package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
)

// ParseJSON reads a result.json that MarshalJSON wrote back into a Result,
// so that results measured elsewhere (the cells of a matrix) can be merged
// and rendered again. name is the file, for errors. It checks the schema
// version and what Markdown and Merge rely on; anything unusable is an
// *input.Error named "result NAME".
//
// The round trip keeps what the report shows: Markdown(ParseJSON(
// MarshalJSON(r))) is Markdown(r). What the JSON does not hold is lost: a
// run's stages and denoise steps (only its e2e is kept), and the dumps'
// model and prompt beyond the result's own.
func ParseJSON(name string, data []byte) (*Result, error) {
	bad := func(format string, a ...any) error { return input.Errorf("result "+name, format, a...) }
	var probe struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, bad("not a diffperf result: %v", jsonError(err))
	}
	switch {
	case probe.Schema == nil:
		return nil, bad("not a diffperf result: no schema field")
	case *probe.Schema != SchemaVersion:
		return nil, bad("schema %q is not one this diffperf reads (%s)", *probe.Schema, SchemaVersion)
	}
	var j JSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return nil, bad("%v", jsonError(err))
	}
	r, err := fromJSON(&j, "")
	if err != nil {
		return nil, bad("%v", err)
	}
	return r, nil
}

// jsonError drops encoding/json's Go type names, which mean nothing to a
// user, but keeps the field and offset.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s: a JSON %s where %s is expected", te.Field, te.Value, kindOf(te.Type.Kind().String()))
	}
	return err
}

func kindOf(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a number"
}

// fromJSON rebuilds a Result; at is the path of j inside the file, for
// errors ("confirmation.").
func fromJSON(j *JSON, at string) (*Result, error) {
	if !knownVerdict(j.Verdict) {
		return nil, fmt.Errorf("field %sverdict: %q is not a verdict", at, j.Verdict)
	}
	o := Options{ThresholdPct: j.Options.ThresholdPct, MinDeltaMs: j.Options.MinDeltaMs,
		MemoryThresholdPct: j.Options.MemoryThresholdPct, Alpha: j.Options.Alpha}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("field %soptions: %w", at, err)
	}
	r := &Result{
		Case: j.Case, Verdict: j.Verdict, Reason: j.Reason, Options: o, Accepted: j.Accepted, AcceptLabel: j.AcceptLabel,
		Model: j.Model, Prompt: j.Prompt, Warnings: j.Warnings, Failure: j.Failure, Env: j.Environment,
		Command: j.Command, Reproduce: j.Reproduce, Notes: j.Notes, Request: j.Request, MergeBase: j.MergeBase,
		Base: sideFromJSON(j.Base), Head: sideFromJSON(j.Head), Profile: j.Profile,
	}
	for _, l := range j.Launches {
		r.Launches = append(r.Launches, Launch{Side: l.Side, Launch: l.Launch, Requests: l.Requests, MedianMs: l.MedianMs, MinMs: l.MinMs, MaxMs: l.MaxMs, LoadMs: l.LoadMs})
	}
	if r.Verdict == Failed && r.Failure == nil {
		r.Failure = &dump.Failure{Reason: r.Reason}
	}
	r.metricIndex = make(map[string]int, len(j.Metrics))
	for i, m := range j.Metrics {
		if m.ID == "" {
			return nil, fmt.Errorf("field %smetrics[%d].id: empty", at, i)
		}
		if _, dup := r.metricIndex[m.ID]; dup {
			return nil, fmt.Errorf("field %smetrics[%d].id: %q appears twice", at, i, m.ID)
		}
		if !knownVerdict(m.Verdict) {
			return nil, fmt.Errorf("field %smetrics[%d].verdict: %q is not a verdict", at, i, m.Verdict)
		}
		r.metricIndex[m.ID] = i
		r.Metrics = append(r.Metrics, Metric{
			ID: m.ID, Name: m.Name, Unit: m.Unit, Kind: m.Kind, Gated: m.Gated,
			Base: statsFromJSON(m.Base), Head: statsFromJSON(m.Head),
			DeltaAbs: float64(m.Delta), DeltaPct: float64(m.DeltaPct), P: pOf(m.P),
			SignificancePossible: m.SignificancePossible, Verdict: m.Verdict,
			BaseCount: m.BaseSteps, HeadCount: m.HeadSteps, Samples: m.Samples, LaunchP: launchP(m.LaunchP),
		})
	}
	if j.Confirmation != nil {
		c, err := fromJSON(j.Confirmation, at+"confirmation.")
		if err != nil {
			return nil, err
		}
		r.Confirmation = c
	}
	return r, nil
}

// launchP reads a metric's launch test p-value: NaN when absent.
func launchP(n *Num) float64 {
	if n == nil {
		return math.NaN()
	}
	return float64(*n)
}

func knownVerdict(v Verdict) bool {
	switch v {
	case Failed, Regression, Inconclusive, Improvement, NoChange:
		return true
	}
	return false
}

// pOf reads a p-value; null (a test that could not run) is 1, as Compare
// writes it.
func pOf(n Num) float64 {
	p := float64(n)
	if math.IsNaN(p) {
		return 1
	}
	return p
}

func sideFromJSON(s JSONSide) dump.Side {
	side := dump.Side{Label: s.Label, Ref: s.Ref, SHA: s.SHA}
	for _, run := range s.Runs {
		side.Runs = append(side.Runs, dump.Run{Index: run.Index, Order: run.Order, Launch: run.Launch, Request: run.Request,
			Dump: &dump.Dump{Name: run.Dump, TotalMs: run.E2EMs, CommitHash: run.CommitHash, Timestamp: run.Timestamp}})
	}
	return side
}

func statsFromJSON(s JSONStats) Stats {
	st := Stats{Median: float64(s.Median), Lo: float64(s.Lo), Hi: float64(s.Hi), Confidence: float64(s.Confidence)}
	for _, v := range s.Values {
		st.Values = append(st.Values, float64(v))
	}
	return st
}
