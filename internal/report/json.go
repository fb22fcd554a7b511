package report

import (
	"encoding/json"
	"math"

	"github.com/diffperf/diffperf/internal/dump"
)

// SchemaVersion names the JSON result format; it changes only when a field
// changes meaning or goes away. Fields may be added within a version.
const SchemaVersion = "diffperf.result/v1"

// JSON is the stable, documented form of a Result (see docs/result-json.md). Numbers that cannot be computed (a confidence bound with too few
// runs) are null.
type JSON struct {
	Schema string `json:"schema"`
	// Case names the case when the result is one of several (input cases).
	Case         string            `json:"case,omitempty"`
	Verdict      Verdict           `json:"verdict"`
	Reason       string            `json:"reason"`
	Accepted     bool              `json:"accepted"`
	AcceptLabel  string            `json:"accept_label,omitempty"`
	Options      JSONOptions       `json:"options"`
	Model        string            `json:"model,omitempty"`
	Prompt       string            `json:"prompt,omitempty"`
	Base         JSONSide          `json:"base"`
	Head         JSONSide          `json:"head"`
	Metrics      []JSONMetric      `json:"metrics"`
	Warnings     []string          `json:"warnings"`
	Failure      *dump.Failure     `json:"failure,omitempty"`
	Environment  *dump.Environment `json:"environment,omitempty"`
	Command      string            `json:"command,omitempty"`
	Reproduce    string            `json:"reproduce,omitempty"`
	Confirmation *JSON             `json:"confirmation,omitempty"`
	Request      *Request          `json:"request,omitempty"`
	MergeBase    bool              `json:"merge_base,omitempty"`
	Notes        []string          `json:"notes,omitempty"`
	// Launches summarise each warm server's launch (mode serve).
	Launches []JSONLaunch `json:"launches,omitempty"`
	// Profile is one profiled run a side (input profile).
	Profile *Profile `json:"profile,omitempty"`
}

// JSONLaunch is one server launch of mode serve: its side and number, its
// measured requests, and their e2e median, min and max in ms.
type JSONLaunch struct {
	Side     string  `json:"side"`
	Launch   int     `json:"launch"`
	Requests int     `json:"requests"`
	MedianMs float64 `json:"e2e_median_ms"`
	MinMs    float64 `json:"e2e_min_ms"`
	MaxMs    float64 `json:"e2e_max_ms"`
	// LoadMs is how long the server took to load (start to healthy), in
	// ms; absent when unknown.
	LoadMs float64 `json:"load_ms,omitempty"`
}

// JSONOptions are the thresholds the verdict used.
type JSONOptions struct {
	ThresholdPct       float64 `json:"threshold_pct"`
	MinDeltaMs         float64 `json:"min_delta_ms"`
	MemoryThresholdPct float64 `json:"memory_threshold_pct"`
	Alpha              float64 `json:"alpha"`
}

// JSONSide is one side with its runs.
type JSONSide struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref,omitempty"`
	SHA   string    `json:"sha,omitempty"`
	Runs  []JSONRun `json:"runs"`
}

// JSONRun is one run: its number within the side, its position in the
// whole measurement (0 when unknown), its dump file and e2e in ms.
type JSONRun struct {
	Index      int     `json:"index"`
	Order      int     `json:"order"`
	Dump       string  `json:"dump"`
	E2EMs      float64 `json:"e2e_ms"`
	CommitHash string  `json:"commit_hash,omitempty"`
	Timestamp  string  `json:"timestamp,omitempty"`
	// Launch and Request place a warm server's request (mode serve).
	Launch  int `json:"launch,omitempty"`
	Request int `json:"request,omitempty"`
}

// JSONMetric is one metric: medians, 95 % confidence intervals and per-run
// values of each side, the change and its p-value, and the verdict.
type JSONMetric struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	Unit                 string    `json:"unit"`
	Kind                 Kind      `json:"kind"`
	Gated                bool      `json:"gated"`
	Base                 JSONStats `json:"base"`
	Head                 JSONStats `json:"head"`
	Delta                Num       `json:"delta"`
	DeltaPct             Num       `json:"delta_pct"`
	P                    Num       `json:"p"`
	SignificancePossible bool      `json:"significance_possible"`
	Verdict              Verdict   `json:"verdict"`
	// BaseSteps and HeadSteps are the Denoising Loop's step counts of old
	// dumps, for its "(N steps)" label.
	BaseSteps int `json:"base_steps,omitempty"`
	HeadSteps int `json:"head_steps,omitempty"`
	// Samples is what one value is in mode serve ("requests" or
	// "launches": a launch's median), LaunchP the p-value of the test that
	// launches differ; both absent otherwise.
	Samples string `json:"samples,omitempty"`
	LaunchP *Num   `json:"launch_p,omitempty"`
}

// JSONStats is Stats with null for bounds that do not exist.
type JSONStats struct {
	N          int   `json:"n"`
	Median     Num   `json:"median"`
	Lo         Num   `json:"ci_lo"`
	Hi         Num   `json:"ci_hi"`
	Confidence Num   `json:"ci_confidence"`
	Values     []Num `json:"values"`
}

// Num is a float64 that encodes NaN and ±Inf as null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON implements json.Unmarshaler; null becomes NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// ToJSON converts a Result to its JSON form.
func ToJSON(r *Result) *JSON {
	o := r.Options
	j := &JSON{
		Schema:      SchemaVersion,
		Case:        r.Case,
		Verdict:     r.Verdict,
		Reason:      r.Reason,
		Accepted:    r.Accepted,
		AcceptLabel: r.AcceptLabel,
		Options:     JSONOptions{o.ThresholdPct, o.MinDeltaMs, o.MemoryThresholdPct, o.Alpha},
		Model:       r.Model,
		Prompt:      r.Prompt,
		Base:        jsonSide(r.Base),
		Head:        jsonSide(r.Head),
		Metrics:     []JSONMetric{},
		Warnings:    append([]string{}, r.Warnings...),
		Failure:     r.Failure,
		Environment: r.Env,
		Command:     r.Command,
		Reproduce:   r.Reproduce,
		Request:     r.Request,
		MergeBase:   r.MergeBase,
		Notes:       r.Notes,
		Profile:     r.Profile,
	}
	for _, m := range r.Metrics {
		jm := JSONMetric{
			ID: m.ID, Name: m.Name, Unit: m.Unit, Kind: m.Kind, Gated: m.Gated,
			Base: jsonStats(m.Base), Head: jsonStats(m.Head),
			Delta: Num(m.DeltaAbs), DeltaPct: Num(m.DeltaPct), P: Num(m.P),
			SignificancePossible: m.SignificancePossible, Verdict: m.Verdict, BaseSteps: m.BaseCount, HeadSteps: m.HeadCount,
		}
		if m.Samples != "" {
			p := Num(m.LaunchP)
			jm.Samples, jm.LaunchP = m.Samples, &p
		}
		j.Metrics = append(j.Metrics, jm)
	}
	for _, l := range r.Launches {
		j.Launches = append(j.Launches, JSONLaunch{l.Side, l.Launch, l.Requests, l.MedianMs, l.MinMs, l.MaxMs, l.LoadMs})
	}
	if r.Confirmation != nil {
		j.Confirmation = ToJSON(r.Confirmation)
	}
	return j
}

// MarshalJSON renders a Result as indented JSON with a trailing newline.
func MarshalJSON(r *Result) ([]byte, error) {
	b, err := json.MarshalIndent(ToJSON(r), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func jsonSide(s dump.Side) JSONSide {
	js := JSONSide{Label: s.Label, Ref: s.Ref, SHA: s.SHA, Runs: []JSONRun{}}
	for _, r := range s.Runs {
		if r.Dump == nil {
			continue
		}
		js.Runs = append(js.Runs, JSONRun{Index: r.Index, Order: r.Order, Dump: r.Dump.Name, E2EMs: r.Dump.TotalMs, CommitHash: r.Dump.CommitHash,
			Timestamp: r.Dump.Timestamp, Launch: r.Launch, Request: r.Request})
	}
	return js
}

func jsonStats(s Stats) JSONStats {
	js := JSONStats{N: len(s.Values), Median: Num(s.Median), Lo: Num(s.Lo), Hi: Num(s.Hi), Confidence: Num(s.Confidence), Values: []Num{}}
	for _, v := range s.Values {
		js.Values = append(js.Values, Num(v))
	}
	return js
}
