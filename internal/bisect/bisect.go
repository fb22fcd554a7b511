// Package bisect finds the first-parent commit that made a performance
// change, the way Chromium's Pinpoint does: every step measures the
// midpoint of the remaining range against the current good and bad
// commits with the project's usual protocol (balanced pairs, extra pairs
// while unclear), classifies it by statistics rather than by a bare
// threshold, and the culprit found is confirmed against its parent with a
// confirming batch (docs/bisect.md).
//
// The package is pure and deterministic: it measures through a Measurer,
// which the command builds on package bench and tests script.
package bisect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// Measurer measures two commits against each other.
type Measurer interface {
	// Compare measures commit a (the base side) against commit b (the head
	// side) with the protocol of plan: balanced pairs, extra pairs up to
	// plan.MaxRuns while a gated metric is unclear, and a confirming batch
	// when plan.Confirm and the first batch shows a regression. A run or
	// setup that fails gives a result whose verdict is failed and whose
	// Failure names the side ("base" or "head"); an error means nothing
	// could be measured.
	Compare(ctx context.Context, a, b string, plan protocol.Plan) (*report.Result, error)
}

// Commit is one commit of the range, as git describes it. Subject and
// Author are untrusted text.
type Commit struct {
	SHA     string `json:"sha"`
	Subject string `json:"subject"`
	Author  string `json:"author"`
	// Date is the author date, RFC 3339.
	Date string `json:"date"`
	// PR is the pull request the subject names ("... (#123)" as a squash
	// merge writes it, "Merge pull request #123 ..." as a merge commit
	// does); 0 when it names none.
	PR int `json:"pr,omitempty"`
}

var (
	squashPR = regexp.MustCompile(`\(#([0-9]{1,9})\)\s*$`)
	mergePR  = regexp.MustCompile(`^Merge pull request #([0-9]{1,9}) `)
)

// PRNumber is the pull request a commit subject names, or 0.
func PRNumber(subject string) int {
	for _, re := range []*regexp.Regexp{squashPR, mergePR} {
		if m := re.FindStringSubmatch(subject); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

// State is what a step made of its commit.
type State string

// The states of a commit, as git bisect names them; Ambiguous is a commit
// that statistics could not place, decided by the nearer median.
const (
	Good      State = "good"
	Bad       State = "bad"
	Skip      State = "skip"
	Ambiguous State = "ambiguous"
)

// Range is what to bisect: the good commit and the first-parent commits
// after it, oldest first, the last being the bad commit. Each commit's
// first parent is the one before it (Good for the first).
type Range struct {
	Good    Commit
	Commits []Commit
}

// Options are the plan and the ways the search reports on itself.
type Options struct {
	// Plan is the protocol of every comparison. A step's comparisons take
	// Plan.Runs pairs (extra pairs up to Plan.MaxRuns while unclear) and
	// no confirming batch; the culprit against its parent takes the
	// confirming batch when Plan.Confirm.
	Plan protocol.Plan
	// Now is the clock of the progress lines and the time spent;
	// time.Now when nil.
	Now func() time.Time
	// Progress gets one line a step, and one for each decision; nil for
	// none.
	Progress func(line string)
}

// Step is one midpoint measured against the current good and bad.
type Step struct {
	// N is the step's number, from 1.
	N int
	// Index is the commit's position in the range, from 1 (the bad
	// commit is len(Range.Commits)).
	Index  int
	Commit Commit
	State  State
	// As is what an ambiguous commit was taken for (Good or Bad); the
	// State otherwise.
	As State
	// Good and Bad are the commits it was measured against.
	Good, Bad string
	// VsGood compares the good commit (base) with the midpoint (head);
	// VsBad the midpoint (base) with the bad commit (head). VsBad is nil
	// when the midpoint was skipped in the first comparison.
	VsGood, VsBad *report.Result
	// Why says how the state was decided, in words.
	Why string
	// Elapsed is the time its comparisons took.
	Elapsed time.Duration
}

// Result is the outcome of a bisection. Findings (no culprit, an
// unconfirmed one, more than one change) are data; errors are for
// measurements that could not be made.
type Result struct {
	Range Range
	// Initial compares the good and the bad commit, measured first.
	Initial *report.Result
	// Direction is Initial's verdict: regression or improvement when good
	// and bad differ; no-change or inconclusive when they do not (and
	// there is no culprit).
	Direction report.Verdict
	Steps     []Step
	// Culprit is the first bad commit; nil when there is none, or when
	// skipped commits leave several (Candidates).
	Culprit *Commit
	// Candidates are the commits that could be the first bad one when
	// skipped commits sit just before the first bad commit measured:
	// the skipped ones and that bad commit, oldest first.
	Candidates []Commit
	// LastGood and FirstBad bound the change: the last commit found good
	// and the first found bad (the culprit, when there is one).
	LastGood, FirstBad Commit
	// Confirmation measures FirstBad against LastGood (the culprit against
	// its parent) with the confirming batch; nil without a culprit or
	// candidates.
	Confirmation *report.Result
	// Confirmed is true when Confirmation shows the change of Direction.
	Confirmed bool
	// Notes are findings in words: why there is no culprit, more than one
	// change in the range.
	Notes []string
	// Elapsed is the time all comparisons took (the GPU's time); Runs the
	// benchmark runs (or serve launches) they made, each side counted.
	Elapsed time.Duration
	Runs    int
}

// ErrMeasure marks a bisection that stopped because the good or the bad
// commit could not be measured (a run of it failed), as opposed to a
// midpoint, which is skipped.
var ErrMeasure = errors.New("could not measure")

// Run bisects r with m. It returns the result so far with an error when a
// measurement of the good or bad commit failed or ctx ended.
func Run(ctx context.Context, m Measurer, r Range, opt Options) (*Result, error) {
	if len(r.Commits) == 0 {
		return nil, fmt.Errorf("bisect: no commits after %s", short(r.Good.SHA))
	}
	if err := opt.Plan.Validate(); err != nil {
		return nil, err
	}
	b := &bisector{m: m, opt: opt, res: &Result{Range: r}}
	err := b.run(ctx)
	return b.res, err
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

type bisector struct {
	m   Measurer
	opt Options
	res *Result
	// commits is Good then Range.Commits: index 0 is good.
	commits []Commit
}

func (b *bisector) say(format string, a ...any) {
	if b.opt.Progress != nil {
		b.opt.Progress(fmt.Sprintf(format, a...))
	}
}

// compare measures a against b and counts its cost.
func (b *bisector) compare(ctx context.Context, a, c string, plan protocol.Plan) (*report.Result, time.Duration, error) {
	t0 := b.opt.now()
	r, err := b.m.Compare(ctx, a, c, plan)
	d := b.opt.now().Sub(t0)
	b.res.Elapsed += d
	if r != nil {
		b.res.Runs += runs(r)
	}
	return r, d, err
}

func runs(r *report.Result) int {
	n := 0
	for x := r; x != nil; x = x.Confirmation {
		n += len(x.Base.Runs) + len(x.Head.Runs)
	}
	return n
}

// stepPlan is the plan of a step's comparisons: no confirming batch.
func (b *bisector) stepPlan() protocol.Plan {
	p := b.opt.Plan
	p.Confirm = false
	return p
}

func (b *bisector) run(ctx context.Context) error {
	res := b.res
	b.commits = append([]Commit{res.Range.Good}, res.Range.Commits...)
	n := len(res.Range.Commits)
	good, bad := 0, n
	goodC, badC := b.commits[good], b.commits[bad]
	b.say("bisect: %d first-parent commits after %s up to %s: about %d steps; measuring good and bad first", n, short(goodC.SHA), short(badC.SHA), stepsFor(n))

	init, _, err := b.compare(ctx, goodC.SHA, badC.SHA, b.stepPlan())
	res.Initial = init
	if err != nil {
		return err
	}
	if init.Verdict == report.Failed {
		return fmt.Errorf("%w the %s commit %s: %s", ErrMeasure, sideName(init.Failure.Side, "good", "bad"), short(sideSHA(init.Failure.Side, goodC.SHA, badC.SHA)), init.Reason)
	}
	res.Direction = init.Verdict
	switch init.Verdict {
	case report.NoChange:
		res.Notes = append(res.Notes, "no culprit: the good and the bad commit do not differ ("+init.Reason+")")
		b.say("bisect: good and bad do not differ: nothing to bisect")
		return nil
	case report.Inconclusive:
		res.Notes = append(res.Notes, "no culprit: the good and the bad commit could not be told apart ("+init.Reason+"); measure with more runs or a lower threshold")
		b.say("bisect: good and bad could not be told apart: nothing to bisect")
		return nil
	}
	b.say("bisect: bad against good: %s", init.Reason)

	skipped := map[int]bool{}
	for step := 1; bad-good > 1; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		mid, ok := b.midpoint(good, bad, skipped)
		if !ok {
			break // only skipped commits left between good and bad
		}
		b.progress(step, good, bad, mid, skipped)
		s, err := b.classify(ctx, step, mid, good, bad)
		if s != nil {
			res.Steps = append(res.Steps, *s)
		}
		if err != nil {
			return err
		}
		switch s.As {
		case Skip:
			skipped[mid] = true
		case Good:
			good = mid
		case Bad:
			bad = mid
		}
		b.say("bisect: step %d: %s is %s: %s", step, short(s.Commit.SHA), s.State, s.Why)
	}

	res.LastGood, res.FirstBad = b.commits[good], b.commits[bad]
	if bad-good == 1 {
		c := b.commits[bad]
		res.Culprit = &c
	} else {
		for i := good + 1; i <= bad; i++ {
			res.Candidates = append(res.Candidates, b.commits[i])
		}
		res.Notes = append(res.Notes, fmt.Sprintf("no single culprit: %d commits before %s could not be measured, so the first bad commit is one of %d", bad-good-1, short(res.FirstBad.SHA), bad-good))
	}
	return b.confirm(ctx)
}

// midpoint is the commit halfway between good and bad, or the unskipped
// commit nearest to it (later ones first), as git bisect skip does.
func (b *bisector) midpoint(good, bad int, skipped map[int]bool) (int, bool) {
	mid := (good + bad) / 2
	for d := 0; d < bad-good; d++ {
		for _, i := range []int{mid + d, mid - d} {
			if i > good && i < bad && !skipped[i] {
				return i, true
			}
		}
	}
	return 0, false
}

// progress prints the step line: step k of about log2 of what is left,
// the commit, the runs so far and an estimate of the time left.
func (b *bisector) progress(step, good, bad, mid int, skipped map[int]bool) {
	left := 0
	for i := good + 1; i < bad; i++ {
		if !skipped[i] {
			left++
		}
	}
	about := step - 1 + stepsFor(left+1)
	eta := ""
	if done := len(b.res.Steps); done > 0 {
		var spent time.Duration
		for _, s := range b.res.Steps {
			spent += s.Elapsed
		}
		// The steps left, and the confirmation, which costs about as much.
		eta = fmt.Sprintf(", ETA %s", (spent / time.Duration(done) * time.Duration(about-step+2)).Round(time.Second))
	}
	b.say("bisect: step %d of about %d: %s (commit %d of %d), %d runs so far%s", step, about, short(b.commits[mid].SHA), mid, len(b.res.Range.Commits), b.res.Runs, eta)
}

// stepsFor is the number of steps that leave one commit of n: ⌈log2 n⌉.
func stepsFor(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// classify measures commit mid against the current good and bad and
// decides, as Pinpoint does: bad when it differs from good and not from
// bad, good in the reverse case; otherwise once more with plan.MaxRuns
// pairs, then by the nearer median (ambiguous).
func (b *bisector) classify(ctx context.Context, step, mid, good, bad int) (*Step, error) {
	c, g, bd := b.commits[mid], b.commits[good], b.commits[bad]
	s := &Step{N: step, Index: mid, Commit: c, Good: g.SHA, Bad: bd.SHA}
	plan := b.stepPlan()
	for attempt := 0; ; attempt++ {
		vsGood, d1, err := b.compare(ctx, g.SHA, c.SHA, plan)
		s.VsGood, s.VsBad, s.Elapsed = vsGood, nil, s.Elapsed+d1
		if err != nil {
			return s, err
		}
		if skip, err := b.failed(vsGood, "head", g.SHA, "good"); skip || err != nil {
			s.State, s.As, s.Why = Skip, Skip, "it could not be measured: "+vsGood.Reason
			return s, err
		}
		vsBad, d2, err := b.compare(ctx, c.SHA, bd.SHA, plan)
		s.VsBad, s.Elapsed = vsBad, s.Elapsed+d2
		if err != nil {
			return s, err
		}
		if skip, err := b.failed(vsBad, "base", bd.SHA, "bad"); skip || err != nil {
			s.State, s.As, s.Why = Skip, Skip, "it could not be measured: "+vsBad.Reason
			return s, err
		}
		fromGood, fromBad := differs(vsGood.Verdict), differs(vsBad.Verdict)
		switch {
		case fromGood == yes && fromBad == no:
			s.State, s.As, s.Why = Bad, Bad, "it differs from the good commit ("+vsGood.Reason+") and not from the bad one"
			return s, nil
		case fromGood == no && fromBad == yes:
			s.State, s.As, s.Why = Good, Good, "it differs from the bad commit ("+vsBad.Reason+") and not from the good one"
			return s, nil
		}
		if attempt == 0 && plan.Runs < plan.MaxRuns {
			plan.Runs = plan.MaxRuns
			b.say("bisect: step %d: %s is unclear against good (%s) and bad (%s): measuring both again with %d pairs", step, short(c.SHA), vsGood.Verdict, vsBad.Verdict, plan.Runs)
			continue
		}
		// The nearer median decides, on the metric that moved.
		id := movedMetric(b.res.Initial)
		mg, mm, mb := median(vsGood, id, false), median(vsGood, id, true), median(vsBad, id, true)
		s.State, s.As = Ambiguous, Bad
		if math.Abs(mm-mg) < math.Abs(mb-mm) {
			s.As = Good
		}
		s.Why = fmt.Sprintf("against good: %s; against bad: %s; its median is nearer the %s commit's", vsGood.Verdict, vsBad.Verdict, s.As)
		if fromGood == yes && fromBad == yes {
			b.res.Notes = append(b.res.Notes, fmt.Sprintf("%s differs from both the good and the bad commit: the range holds more than one change", short(c.SHA)))
		}
		return s, nil
	}
}

// failed reports whether r failed on the midpoint's side (skip it); a
// failure of the other side, a commit measured before, is an error.
func (b *bisector) failed(r *report.Result, midSide, otherSHA, otherName string) (skip bool, err error) {
	if r.Verdict != report.Failed {
		return false, nil
	}
	if r.Failure != nil && r.Failure.Side == midSide {
		return true, nil
	}
	return false, fmt.Errorf("%w the %s commit %s, measured before: %s", ErrMeasure, otherName, short(otherSHA), r.Reason)
}

type tri int

const (
	unsure tri = iota
	yes
	no
)

func differs(v report.Verdict) tri {
	switch v {
	case report.Regression, report.Improvement:
		return yes
	case report.NoChange:
		return no
	}
	return unsure
}

// confirm measures the first bad commit against the last good one (the
// culprit against its parent) with the confirming batch.
func (b *bisector) confirm(ctx context.Context) error {
	res := b.res
	b.say("bisect: confirming %s against %s with an independent batch", short(res.FirstBad.SHA), short(res.LastGood.SHA))
	r, _, err := b.compare(ctx, res.LastGood.SHA, res.FirstBad.SHA, b.opt.Plan)
	res.Confirmation = r
	if err != nil {
		return err
	}
	if r.Verdict == report.Failed {
		res.Notes = append(res.Notes, "the confirmation could not be measured: "+r.Reason)
		return nil
	}
	res.Confirmed = r.Verdict == res.Direction
	if !res.Confirmed {
		res.Notes = append(res.Notes, fmt.Sprintf("unconfirmed: %s against %s is %s (%s)", short(res.FirstBad.SHA), short(res.LastGood.SHA), r.Verdict, r.Reason))
		return nil
	}
	// How much of the range's change the culprit explains.
	id := movedMetric(res.Initial)
	whole := median(res.Initial, id, true) - median(res.Initial, id, false)
	part := median(r, id, true) - median(r, id, false)
	if whole != 0 && part/whole < 2.0/3 {
		res.Notes = append(res.Notes, fmt.Sprintf("the range held more than one change: %s accounts for %.0f %% of the change from good to bad; bisect the rest with --good %s or --bad %s",
			short(res.FirstBad.SHA), 100*part/whole, short(res.FirstBad.SHA), short(res.LastGood.SHA)))
	}
	return nil
}

// movedMetric is the gated metric whose verdict decided r (E2E when
// several did or none).
func movedMetric(r *report.Result) string {
	if r == nil {
		return report.MetricE2E
	}
	if e2e := r.Metric(report.MetricE2E); e2e != nil && e2e.Verdict == r.Verdict {
		return report.MetricE2E
	}
	for _, m := range r.Metrics {
		if m.Gated && m.Verdict == r.Verdict {
			return m.ID
		}
	}
	return report.MetricE2E
}

// median is the median of metric id on the head side (or base) of r.
func median(r *report.Result, id string, head bool) float64 {
	if r == nil {
		return math.NaN()
	}
	m := r.Metric(id)
	if m == nil {
		return math.NaN()
	}
	if head {
		return m.Head.Median
	}
	return m.Base.Median
}

func sideName(side, base, head string) string {
	if side == "base" {
		return base
	}
	return head
}

func sideSHA(side, base, head string) string { return sideName(side, base, head) }

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Index is the position of sha in the range: 0 for good, from 1 for the
// commits after it; -1 when it is not there.
func (r Range) Index(sha string) int {
	if r.Good.SHA == sha {
		return 0
	}
	if i := slices.IndexFunc(r.Commits, func(c Commit) bool { return c.SHA == sha }); i >= 0 {
		return i + 1
	}
	return -1
}
