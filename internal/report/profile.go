package report

import (
	"fmt"
	"math"
	"strings"
)

// ProfileTitle is the title of the report's collapsed profile section.
const ProfileTitle = "What got slower (profiled once a side)"

// Profile is what one profiled run a side showed (docs/profile.md): the
// kernels whose time per profiled step changed most between base and head.
// The profiled runs are never timed samples and never part of the verdict.
// Times are microseconds per profiled step. Names are the normalised
// kernel names of the traces: untrusted text, escaped when rendered.
type Profile struct {
	// Stage is the regressed stage that chose what was profiled ("" when
	// no stage regressed); AllStages is true when the whole pipeline was
	// profiled (--profile-all-stages), false for the denoising steps only.
	Stage     string `json:"stage,omitempty"`
	AllStages bool   `json:"all_stages"`
	// Serve is true when each side was profiled in one extra launch of its
	// server (mode serve).
	Serve bool        `json:"serve,omitempty"`
	Base  ProfileSide `json:"base"`
	Head  ProfileSide `json:"head"`
	// Rows are the kernels that changed, largest change per step first,
	// at most 10; Added and Gone the kernels of one side only.
	Rows  []ProfileRow `json:"rows"`
	Added []ProfileRow `json:"added"`
	Gone  []ProfileRow `json:"gone"`
	// Counts counts the kernels of each class (added, gone, increased,
	// decreased, unchanged), all of them.
	Counts map[string]int `json:"counts"`
	// BaseUs and HeadUs are the summed kernel time per profiled step of
	// each side, ChangeUs their difference.
	BaseUs   float64 `json:"base_us"`
	HeadUs   float64 `json:"head_us"`
	ChangeUs float64 `json:"change_us"`
	// Measured names the measured metric the summed change is set against
	// and MeasuredChangeMs is its change of the medians: the denoise step
	// median (PerStep, set against ChangeUs) when the denoising steps were
	// profiled, else e2e (set against the change over the whole trace).
	Measured         string  `json:"measured,omitempty"`
	MeasuredChangeMs float64 `json:"measured_change_ms,omitempty"`
	PerStep          bool    `json:"per_step,omitempty"`
	// Notes say what limits the comparison.
	Notes []string `json:"notes,omitempty"`
}

// ProfileSide is one side's profiled run.
type ProfileSide struct {
	// Trace is the trace file, relative to the out folder.
	Trace string `json:"trace"`
	// Steps is the number of profiled steps, the divisor of every time.
	Steps int `json:"steps"`
	// Seconds is the wall time of the profiled run (mode serve: the extra
	// launch, from its start to its stop), the cost of profiling.
	Seconds float64 `json:"seconds"`
}

// ProfileRow is one kernel: its time per profiled step on each side
// (0 where absent), the change and its ratio to base (0 for added ones),
// and the calls per step of each side.
type ProfileRow struct {
	Name      string  `json:"name"`
	Class     string  `json:"class"`
	BaseUs    float64 `json:"base_us"`
	ChangeUs  float64 `json:"change_us"`
	HeadUs    float64 `json:"head_us"`
	Rel       float64 `json:"rel"`
	BaseCalls float64 `json:"base_calls"`
	HeadCalls float64 `json:"head_calls"`
}

// AttachProfile sets r's profile, with the measured change it is set
// against: the denoise step median's when the denoising steps were
// profiled, else e2e's.
func (r *Result) AttachProfile(p *Profile) {
	id := MetricE2E
	if !p.AllStages {
		id = MetricStepMedian
	}
	p.Measured, p.MeasuredChangeMs, p.PerStep = "", 0, false
	if m := r.Metric(id); m != nil {
		p.Measured, p.MeasuredChangeMs, p.PerStep = m.Name, m.DeltaAbs, !p.AllStages
	}
	r.Profile = p
}

// profileSection is the collapsed section of r's profile; ok is false
// without one.
func (r *Result) profileSection() (section, bool) {
	p := r.Profile
	if p == nil {
		return section{}, false
	}
	var b strings.Builder
	what := "the denoising steps"
	if p.AllStages {
		what = "every stage (`--profile-all-stages`)"
	}
	if p.Stage != "" {
		what += ", since " + Escape(p.Stage) + " regressed"
	}
	fmt.Fprintf(&b, "One run a side under sglang's profiler (`--profile`), profiling %s: %d profiled steps of base, %d of head. Times are GPU kernel time per profiled step; these runs were not timed and are no part of the verdict.\n\n",
		what, p.Base.Steps, p.Head.Steps)
	if p.Serve {
		fmt.Fprintf(&b, "Each side was profiled in one extra launch of its server: %s s of GPU time for base, %s s for head.\n\n",
			FormatMs(p.Base.Seconds), FormatMs(p.Head.Seconds))
	}
	if len(p.Rows) > 0 {
		b.WriteString("| kernel | base | change | head | calls |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, row := range p.Rows {
			change := FormatSigned(row.ChangeUs/1000) + " ms"
			switch row.Class {
			case "added", "gone":
				change += " (" + row.Class + ")"
			default:
				change += " (" + FormatPct(row.Rel*100) + ")"
			}
			fmt.Fprintf(&b, "| %s | %s ms | %s | %s ms | %s → %s |\n", Escape(row.Name), FormatMs(row.BaseUs/1000), change,
				FormatMs(row.HeadUs/1000), FormatNum(round2(row.BaseCalls)), FormatNum(round2(row.HeadCalls)))
		}
		b.WriteString("\n")
	} else {
		b.WriteString("No kernel changed by more than the noise floor of one profiled run (2 % of its time, and 1 µs a step).\n\n")
	}
	fmt.Fprintf(&b, "Added in head: %s. Gone from base: %s.\n\n", profileNames(p.Added, p.Counts["added"], true), profileNames(p.Gone, p.Counts["gone"], false))
	sum := FormatSigned(p.ChangeUs/1000) + " ms per profiled step"
	if !p.PerStep {
		total := p.HeadUs*float64(p.Head.Steps) - p.BaseUs*float64(p.Base.Steps)
		sum = FormatSigned(total/1000) + " ms over the profiled run"
	}
	fmt.Fprintf(&b, "Summed over all kernels: %s (%s → %s ms a step)", sum, FormatMs(p.BaseUs/1000), FormatMs(p.HeadUs/1000))
	if p.Measured != "" {
		fmt.Fprintf(&b, "; measured: %s %s ms (the change of the medians)", Escape(p.Measured), FormatSigned(p.MeasuredChangeMs))
	}
	b.WriteString(".\n\n")
	for _, n := range p.Notes {
		b.WriteString("- " + Escape(n) + "\n")
	}
	if len(p.Notes) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Traces, kept in the out folder (open in [ui.perfetto.dev](https://ui.perfetto.dev)): base %s, head %s.\n",
		Escape(p.Base.Trace), Escape(p.Head.Trace))
	return details(ProfileTitle, b.String()), true
}

// profileNames lists added (head's time) or gone (base's time) kernels.
func profileNames(rows []ProfileRow, count int, added bool) string {
	if len(rows) == 0 {
		return "none"
	}
	var parts []string
	for _, row := range rows {
		us, calls := row.HeadUs, row.HeadCalls
		if !added {
			us, calls = row.BaseUs, row.BaseCalls
		}
		unit := "calls"
		if round2(calls) == 1 {
			unit = "call"
		}
		parts = append(parts, fmt.Sprintf("%s (%s ms, %s %s a step)", Escape(row.Name), FormatMs(us/1000), FormatNum(round2(calls)), unit))
	}
	if count > len(rows) {
		parts = append(parts, fmt.Sprintf("and %d more", count-len(rows)))
	}
	return strings.Join(parts, ", ")
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
