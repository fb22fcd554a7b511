// Package dump reads the perf dumps that sglang-diffusion writes (every
// format it has used, normalised into one Dump) and holds what a
// measurement records of them: each run's dump and place (Run), the runs of
// one side (Side), the run that failed (Failure), and the GPUs the runs saw
// (Environment). docs/dumps.md describes the formats.
//
// It is the ground floor that the sampler (package bench) writes and the
// comparison (package report) reads, as golang.org/x/perf/benchfmt is for
// Go's benchmark format: it parses bytes and does no exec, network or
// environment access.
package dump

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"

	"github.com/diffperf/diffperf/internal/input"
)

// DenoisingLoop is the row name that old dumps' per-step `denoising_step_N`
// entries fold into, as compare_perf.py does.
const DenoisingLoop = "Denoising Loop"

var denoisingStepName = regexp.MustCompile(`^denoising_step_(\d+)$`)

// Dump is one perf dump written by `sglang generate --perf-dump-path` (or the
// server's perf dump), normalised across the formats sglang has used.
type Dump struct {
	// Name is the file the dump came from, used in errors and labels.
	Name string
	// Timestamp, RequestID, CommitHash and Tag are copied as written.
	// CommitHash is "N/A" when sglang could not tell.
	Timestamp, RequestID, CommitHash, Tag string
	// TotalMs is the e2e latency of the pipeline forward in milliseconds.
	TotalMs float64
	// Stages are the pipeline stages in first-seen order, with durations of
	// duplicate names summed and old denoising_step_N entries folded into
	// one DenoisingLoop stage.
	Stages []Stage
	// DenoiseSteps are the per-step denoising durations in milliseconds, in
	// step order: from denoise_steps_ms, or else from old denoising_step_N
	// entries. Empty when the dump has neither.
	DenoiseSteps []float64
	// Memory holds the memory checkpoints sorted by name; empty for dumps
	// older than Feb 2026 and for CPU runs.
	Memory []Checkpoint
	// Model and Prompt come from the dump's meta object; the server's dumps
	// have no prompt.
	Model, Prompt string

	// stageIndex maps a stage name to its position in Stages; set by
	// ParseDump, so that a dump with many stages compares in linear time.
	stageIndex map[string]int
}

// Stage is one pipeline stage of a dump.
type Stage struct {
	Name string
	// DurationMs is the summed duration of every entry of this name.
	DurationMs float64
	// Count is how many entries were summed: the number of denoising steps
	// for DenoisingLoop, usually 1 otherwise.
	Count int
}

// Checkpoint is one entry of memory_checkpoints, in MiB.
type Checkpoint struct {
	Name                                                     string
	AllocatedMB, ReservedMB, PeakAllocatedMB, PeakReservedMB float64
}

// StageMs returns the duration of the named stage, or 0 when the dump does
// not have it (compare_perf.py counts a missing stage as 0).
func (d *Dump) StageMs(name string) float64 {
	if d.stageIndex != nil && len(d.stageIndex) == len(d.Stages) {
		if i, ok := d.stageIndex[name]; ok {
			return d.Stages[i].DurationMs
		}
		return 0
	}
	for _, s := range d.Stages {
		if s.Name == name {
			return s.DurationMs
		}
	}
	return 0
}

// PeakAllocatedMB is the largest peak_allocated_mb over all checkpoints, and
// false when the dump has no checkpoints.
func (d *Dump) PeakAllocatedMB() (float64, bool) {
	return maxOver(d.Memory, func(c Checkpoint) float64 { return c.PeakAllocatedMB })
}

// PeakReservedMB is the largest peak_reserved_mb over all checkpoints, and
// false when the dump has no checkpoints.
func (d *Dump) PeakReservedMB() (float64, bool) {
	return maxOver(d.Memory, func(c Checkpoint) float64 { return c.PeakReservedMB })
}

func maxOver(cs []Checkpoint, f func(Checkpoint) float64) (float64, bool) {
	if len(cs) == 0 {
		return 0, false
	}
	m := math.Inf(-1)
	for _, c := range cs {
		m = math.Max(m, f(c))
	}
	return m, true
}

// DumpError says which field made a dump unusable. ParseDump returns it
// inside an *input.Error named "dump FILE".
type DumpError struct {
	Field string // empty when the file as a whole is wrong
	Msg   string
}

func (e *DumpError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return "field " + e.Field + ": " + e.Msg
}

// Python's json module writes NaN and ±Infinity as bare tokens (invalid
// JSON); rewriteNonFinite turns them into these strings so that the error
// can name the field instead of a byte offset.
const (
	tokNaN    = "\x00NaN"
	tokPosInf = "\x00Infinity"
	tokNegInf = "\x00-Infinity"
)

// ParseDump parses one perf dump. name is used in errors only. Every dump
// variant of sglang is accepted (see docs/dumps.md); unknown keys are ignored.
// When the bytes cannot be a dump, the error is an *input.Error named
// "dump NAME" around a *DumpError that names the field.
func ParseDump(name string, data []byte) (*Dump, error) {
	d, err := parseDump(name, data)
	if err != nil {
		return nil, &input.Error{Name: "dump " + name, Err: err}
	}
	return d, nil
}

func parseDump(name string, data []byte) (*Dump, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rewriteNonFinite(data), &raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, &DumpError{Msg: "not a JSON object"}
		}
		return nil, &DumpError{Msg: "not JSON: " + err.Error()}
	}
	if raw == nil {
		return nil, &DumpError{Msg: "not a JSON object (null)"}
	}
	d := &Dump{Name: name}
	d.Timestamp = optString(raw["timestamp"])
	d.RequestID = optString(raw["request_id"])
	d.CommitHash = optString(raw["commit_hash"])
	d.Tag = optString(raw["tag"])

	total, ok := raw["total_duration_ms"]
	if !ok || isNull(total) {
		return nil, &DumpError{Field: "total_duration_ms", Msg: "missing"}
	}
	v, err := number(total)
	if err != nil {
		return nil, &DumpError{Field: "total_duration_ms", Msg: err.Error()}
	}
	d.TotalMs = v

	if err := d.parseSteps(raw["steps"]); err != nil {
		return nil, err
	}
	if err := d.parseDenoise(raw["denoise_steps_ms"]); err != nil {
		return nil, err
	}
	if err := d.parseMemory(raw["memory_checkpoints"]); err != nil {
		return nil, err
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(raw["meta"], &meta) == nil {
		d.Model = optString(meta["model"])
		d.Prompt = optString(meta["prompt"])
	}
	return d, nil
}

func (d *Dump) parseSteps(msg json.RawMessage) error {
	if len(msg) == 0 || isNull(msg) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(msg, &items); err != nil {
		return &DumpError{Field: "steps", Msg: "not an array"}
	}
	index := map[string]int{}
	type oldStep struct {
		n  int
		ms float64
	}
	var old []oldStep
	for i, item := range items {
		field := fmt.Sprintf("steps[%d]", i)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
			return &DumpError{Field: field, Msg: "not an object"}
		}
		var stageName string
		if err := json.Unmarshal(obj["name"], &stageName); err != nil {
			return &DumpError{Field: field + ".name", Msg: "missing or not a string"}
		}
		ms, err := number(obj["duration_ms"])
		if err != nil {
			return &DumpError{Field: field + ".duration_ms", Msg: err.Error()}
		}
		key := stageName
		if m := denoisingStepName.FindStringSubmatch(stageName); m != nil {
			key = DenoisingLoop
			var n int
			fmt.Sscan(m[1], &n)
			old = append(old, oldStep{n, ms})
		}
		if j, ok := index[key]; ok {
			d.Stages[j].DurationMs += ms
			d.Stages[j].Count++
			continue
		}
		index[key] = len(d.Stages)
		d.Stages = append(d.Stages, Stage{Name: key, DurationMs: ms, Count: 1})
	}
	d.stageIndex = index
	sort.SliceStable(old, func(i, j int) bool { return old[i].n < old[j].n })
	for _, s := range old {
		d.DenoiseSteps = append(d.DenoiseSteps, s.ms)
	}
	return nil
}

func (d *Dump) parseDenoise(msg json.RawMessage) error {
	if len(msg) == 0 || isNull(msg) {
		return nil
	}
	if steps, ok := fastDenoise(msg); ok {
		d.DenoiseSteps = steps
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(msg, &items); err != nil {
		return &DumpError{Field: "denoise_steps_ms", Msg: "not an array"}
	}
	steps := make([]float64, 0, len(items))
	for i, item := range items {
		field := fmt.Sprintf("denoise_steps_ms[%d]", i)
		item = bytes.TrimSpace(item)
		if len(item) > 0 && item[0] == '{' {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(item, &obj); err != nil {
				return &DumpError{Field: field, Msg: "not an object"}
			}
			item = obj["duration_ms"]
			field += ".duration_ms"
		}
		ms, err := number(item)
		if err != nil {
			return &DumpError{Field: field, Msg: err.Error()}
		}
		steps = append(steps, ms)
	}
	// The explicit list wins over steps folded from old denoising_step_N rows.
	d.DenoiseSteps = steps
	return nil
}

func (d *Dump) parseMemory(msg json.RawMessage) error {
	if len(msg) == 0 || isNull(msg) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(msg, &obj); err != nil {
		return &DumpError{Field: "memory_checkpoints", Msg: "not an object"}
	}
	// In name order, so that the first bad checkpoint named is always the
	// same one.
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[name]
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return &DumpError{Field: "memory_checkpoints." + name, Msg: "not an object"}
		}
		c := Checkpoint{Name: name}
		for _, f := range []struct {
			key string
			dst *float64
		}{
			{"allocated_mb", &c.AllocatedMB},
			{"reserved_mb", &c.ReservedMB},
			{"peak_allocated_mb", &c.PeakAllocatedMB},
			{"peak_reserved_mb", &c.PeakReservedMB},
		} {
			key, dst := f.key, f.dst
			v, ok := fields[key]
			if !ok || isNull(v) {
				continue
			}
			f, err := number(v)
			if err != nil {
				return &DumpError{Field: "memory_checkpoints." + name + "." + key, Msg: err.Error()}
			}
			*dst = f
		}
		d.Memory = append(d.Memory, c)
	}
	sort.Slice(d.Memory, func(i, j int) bool { return d.Memory[i].Name < d.Memory[j].Name })
	return nil
}

// fastDenoise decodes a well-formed denoise_steps_ms in one pass; it
// reports false for anything unusual, which the slow path then names.
func fastDenoise(msg json.RawMessage) ([]float64, bool) {
	if bytes.Contains(msg, []byte(`"\u0000`)) {
		return nil, false // a NaN or Infinity the slow path must name
	}
	var nums []float64
	if json.Unmarshal(msg, &nums) == nil {
		for _, v := range nums {
			if v < 0 {
				return nil, false
			}
		}
		return nums, true
	}
	var objs []struct {
		DurationMs *float64 `json:"duration_ms"`
	}
	if json.Unmarshal(msg, &objs) != nil {
		return nil, false
	}
	out := make([]float64, len(objs))
	for i, o := range objs {
		if o.DurationMs == nil || *o.DurationMs < 0 {
			return nil, false
		}
		out[i] = *o.DurationMs
	}
	return out, true
}

// number decodes a finite, non-negative JSON number, naming what is wrong.
func number(msg json.RawMessage) (float64, error) {
	if len(msg) == 0 || isNull(msg) {
		return 0, fmt.Errorf("missing")
	}
	var s string
	if json.Unmarshal(msg, &s) == nil {
		switch s {
		case tokNaN:
			return 0, fmt.Errorf("is NaN")
		case tokPosInf, tokNegInf:
			return 0, fmt.Errorf("is infinite")
		}
		return 0, fmt.Errorf("is a string, not a number")
	}
	var f float64
	if err := json.Unmarshal(msg, &f); err != nil {
		return 0, fmt.Errorf("not a number: %.40s", msg)
	}
	if math.IsInf(f, 0) {
		return 0, fmt.Errorf("is infinite")
	}
	if f < 0 {
		return 0, fmt.Errorf("is negative (%g)", f)
	}
	return f, nil
}

func optString(msg json.RawMessage) string {
	var s string
	if json.Unmarshal(msg, &s) != nil {
		return ""
	}
	return s
}

func isNull(msg json.RawMessage) bool {
	return string(bytes.TrimSpace(msg)) == "null"
}

// rewriteNonFinite replaces the bare tokens NaN, Infinity and -Infinity that
// Python's json.dump writes by marker strings, leaving string contents alone.
func rewriteNonFinite(data []byte) []byte {
	if !bytes.Contains(data, []byte("NaN")) && !bytes.Contains(data, []byte("Infinity")) {
		return data
	}
	out := make([]byte, 0, len(data)+16)
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			out = append(out, c)
			continue
		}
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("-Infinity")):
			out = append(out, `"\u0000-Infinity"`...)
			i += len("-Infinity") - 1
		case bytes.HasPrefix(rest, []byte("Infinity")):
			out = append(out, `"\u0000Infinity"`...)
			i += len("Infinity") - 1
		case bytes.HasPrefix(rest, []byte("NaN")):
			out = append(out, `"\u0000NaN"`...)
			i += len("NaN") - 1
		default:
			out = append(out, c)
		}
	}
	return out
}
