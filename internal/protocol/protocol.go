// Package protocol decides how much to measure and what the measurements
// mean, following the measurement protocol of docs/protocol.md: balanced pairs of runs,
// extra pairs while a gated metric is past its thresholds but not yet
// significant, and a second, independent batch that must confirm an
// apparent regression before it counts. Package bench takes the samples;
// package report compares them; this package sits between the two, so that
// other ways of sampling (a warm server, many cases) plug in here.
package protocol

import (
	"context"
	"errors"
	"fmt"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// Batch names: the first batch, and the independent confirming one.
const (
	First   = ""
	Confirm = "confirm"
)

// Sampler takes balanced pairs of samples of base and head.
// *bench.Pair (over any two Checkouts) and *bench.Session are.
type Sampler interface {
	// Pair takes one balanced pair of batch; a Failure ends the
	// measurement.
	Pair(ctx context.Context, batch string) *dump.Failure
	// Sides returns the samples of batch so far.
	Sides(batch string) (base, head dump.Side)
	// Expect announces more samples, for progress lines.
	Expect(samples int)
	// Step reports a decision, in words.
	Step(msg string)
}

// Plan is how many samples a verdict may take, and how it is judged.
type Plan struct {
	// Runs is the number of samples per side of a batch; MaxRuns bounds it
	// when an unclear result earns extra balanced pairs.
	Runs, MaxRuns int
	// Confirm re-measures an apparent regression with an independent
	// batch of Runs pairs before it counts.
	Confirm bool
	Options report.Options
	// Serve is true in mode serve, where a pair is one launch of each
	// side's server (see ServePlan): Runs and MaxRuns count launches.
	Serve bool
	// Profile is when to profile one run a side after the verdict
	// (ProfileAuto, ProfileAlways, ProfileOff; "" is ProfileAuto).
	Profile string
}

// unit names what a pair adds to each side, and the inputs that set Runs
// and MaxRuns.
func (p Plan) unit() (unit, runs, maxRuns string) {
	if p.Serve {
		return "launches", "launches", "max-launches"
	}
	return "runs", "runs", "max-runs"
}

// Validate reports the first field that is out of range, named as the
// input that sets it.
func (p Plan) Validate() error {
	_, runs, maxRuns := p.unit()
	switch {
	case p.Runs < 1:
		return input.Errorf(runs, "%d is not a positive count", p.Runs)
	case p.MaxRuns < p.Runs:
		return input.Errorf(maxRuns, "%d is less than %s (%d)", p.MaxRuns, runs, p.Runs)
	}
	if _, err := ParseProfile("profile", p.Profile); err != nil {
		return err
	}
	return p.Options.Validate()
}

// Decide runs the protocol on s and returns the verdict with its evidence.
// Each batch, the confirming one too, takes Runs pairs and then extra
// pairs, two at a time up to MaxRuns, while a gated metric is past its
// thresholds but not significant. A sample that fails ends it with a
// result whose verdict is failed and which keeps what was measured before.
func Decide(ctx context.Context, s Sampler, p Plan) *report.Result {
	compare := func(batch string) *report.Result {
		b, h := s.Sides(batch)
		return report.Compare(b, h, p.Options)
	}
	failed := func(batch string, f *dump.Failure) *report.Result {
		r := compare(batch)
		r.Fail(*f)
		return r
	}
	batch := func(name string, pairs int) *dump.Failure {
		s.Expect(2 * pairs)
		for range pairs {
			if f := s.Pair(ctx, name); f != nil {
				return f
			}
		}
		return nil
	}

	// measure takes one batch: Runs pairs, then extra pairs while it is
	// unclear.
	measure := func(name string) (*report.Result, *dump.Failure) {
		if f := batch(name, p.Runs); f != nil {
			return nil, f
		}
		pairs := p.Runs
		r := compare(name)
		unit, _, _ := p.unit()
		for r.NeedsMoreRuns() && pairs < p.MaxRuns {
			// Two pairs keep the order balanced: base head head base.
			add := min(2, p.MaxRuns-pairs)
			judged := ""
			if m := r.Metric(report.MetricE2E); m != nil && m.Samples == report.SamplesLaunches {
				judged = ", the batch judged on each launch's median, since its launches differ"
			}
			s.Step(fmt.Sprintf("past the thresholds but not significant: %d more pairs (up to %d %s a side%s)", add, p.MaxRuns, unit, judged))
			if f := batch(name, add); f != nil {
				return nil, f
			}
			pairs += add
			r = compare(name)
		}
		return r, nil
	}

	r, f := measure(First)
	if f != nil {
		return failed(First, f)
	}
	if r.Verdict != report.Regression || !p.Confirm {
		return r
	}
	s.Step(fmt.Sprintf("apparent regression (%s): confirming with an independent batch of %d pairs", r.Reason, p.Runs))
	second, f := measure(Confirm)
	if f != nil {
		// Said as what it was: the confirmation of an apparent regression
		// that could not finish, not a failure of the first batch.
		g := *f
		g.Reason = fmt.Sprintf("while confirming an apparent regression (%s) with an independent batch: %s", r.Reason, f.Reason)
		return failed(First, &g)
	}
	report.Confirm(r, second)
	return r
}

// Measure is the whole A/B measurement of a change: worktrees of base and
// head, setup, the protocol over balanced pairs of runs, the GPU state
// before and after. The result is returned whenever there is one, also
// together with an error from cleaning up or from ctx; an error alone means
// nothing could be measured.
func Measure(ctx context.Context, spec bench.Spec, p Plan) (res *report.Result, err error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s, err := bench.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if f := s.Prepare(ctx); f != nil {
		b, h := s.Sides(First)
		res = report.Compare(b, h, p.Options)
		res.Fail(*f)
	} else {
		res = Decide(ctx, s, p)
		profileResult(ctx, s, res, p.Profile, p.Serve, spec.OutDir)
	}
	describe(ctx, s, res, spec.Model, spec.Prompt)
	return res, ctx.Err()
}

// describe adds to r (and its confirming batch) what the session knows of
// the case: the model and prompt when the dumps do not name them, the
// command (the one that failed, when a run failed), the GPU state before and
// after, and whether the base is a merge base.
func describe(ctx context.Context, s *bench.Session, r *report.Result, model, prompt string) {
	for _, x := range []*report.Result{r, r.Confirmation} {
		if x == nil {
			continue
		}
		if x.Model == "" {
			x.Model = model
		}
		if x.Prompt == "" {
			x.Prompt = prompt
		}
		x.Command = s.Command("head", 1)
		if f := r.Failure; f != nil && f.Side != "" {
			x.Command = s.Command(f.Side, f.Run)
		}
	}
	r.Env = s.Environment(ctx)
	r.MergeBase = s.MergeBase()
}
