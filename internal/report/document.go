package report

import "fmt"

// Document is a finished report as it is published: one case's Result,
// or the Merged report of several cases. Whoever publishes one (the CLI,
// the Action) needs no more of it than this.
type Document interface {
	// Render is the document's Markdown within opt.
	Render(opt RenderOptions) string
	// JSON is the document as indented JSON with a trailing newline.
	JSON() ([]byte, error)
	// Outcome is what the document found.
	Outcome() Outcome
	// Status is the state and description of diffperf's commit status for
	// the document, naming acceptLabel where a regression can be accepted.
	Status(acceptLabel string) (StatusState, string)
}

// Outcome is what a report found, as data: the verdict, whether it gates a
// merge, and what could not be measured. It is never an error; the
// command maps it to the exit status.
type Outcome struct {
	Verdict Verdict
	// Reason is the verdict's reason, one line.
	Reason string
	// Gates is true for an established regression that is not accepted.
	Gates bool
	// Unfinished says, as a sentence, what was not measured (a failed
	// measurement and its reason, the cases that failed or are missing);
	// "" when everything was.
	Unfinished string
}

// Render is Markdown(r, opt).
func (r *Result) Render(opt RenderOptions) string { return Markdown(r, opt) }

// JSON is MarshalJSON(r): the schema of result.json.
func (r *Result) JSON() ([]byte, error) { return MarshalJSON(r) }

// Outcome is r's verdict; a regression gates unless it is accepted.
func (r *Result) Outcome() Outcome {
	o := Outcome{Verdict: r.Verdict, Reason: r.Reason, Gates: r.Verdict == Regression && !r.Accepted}
	if r.Verdict == Failed {
		o.Unfinished = "the measurement failed: " + r.Reason
	}
	return o
}

// Status is GateState and StatusDescription of r.
func (r *Result) Status(acceptLabel string) (StatusState, string) {
	return GateState(r.Verdict, r.Accepted), StatusDescription(r, acceptLabel)
}

// Render is MarkdownMerged(m, opt).
func (m *Merged) Render(opt RenderOptions) string { return MarkdownMerged(m, opt) }

// JSON is MarshalMergedJSON(m): the schema of merged.json.
func (m *Merged) JSON() ([]byte, error) { return MarshalMergedJSON(m) }

// Outcome is m's verdict over its cases: it gates when a case's
// regression is not accepted, and it is unfinished when a case failed or
// is missing, since no gate may pass on a case that was not measured.
func (m *Merged) Outcome() Outcome {
	o := Outcome{Verdict: m.Verdict, Reason: m.Reason, Gates: m.Gates()}
	if u := m.Unfinished(); len(u) > 0 {
		o.Unfinished = fmt.Sprintf("%d of %d cases failed or are missing: %s", len(u), len(m.Cases), quoteList(u))
	}
	return o
}

// Status is GateState and MergedStatusDescription of m.
func (m *Merged) Status(acceptLabel string) (StatusState, string) {
	return GateState(m.Verdict, !m.Gates()), MergedStatusDescription(m, acceptLabel)
}

func quoteList(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", n)
	}
	return s
}
