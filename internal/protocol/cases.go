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

// Case is one case of MeasureCases: its name (the result's Case) and what
// package bench runs for it.
type Case struct {
	Name  string
	Bench bench.Case
}

// MeasureCases measures several cases one after the other on one pair of
// worktrees, checked out and set up once (docs/cases.md): the protocol
// runs for each case in turn, each with its own runs, dumps and verdict.
// spec gives the code and the setup; its command, model, prompt, args and
// out folder are the cases'. done, when not nil, gets each case's result as
// soon as it is decided, so that nothing measured waits for the cases
// after it.
//
// A case that fails does not stop the next one; a setup that fails fails
// every case, and after ctx ends the cases left are failed "not measured".
// There is a result for every case, in order, unless an error alone says
// nothing could be measured (worktrees could not be made).
func MeasureCases(ctx context.Context, spec bench.Spec, p Plan, cases []Case, done func(*report.Result)) (results []*report.Result, err error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(cases) == 0 {
		return nil, input.Errorf("cases", "no cases to measure")
	}
	first := cases[0].Bench
	spec.Template, spec.Model, spec.Prompt, spec.Args = first.Template, first.Model, first.Prompt, first.Args
	s, err := bench.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	setup := s.Prepare(ctx)
	for _, c := range cases {
		var r *report.Result
		switch {
		case setup != nil:
			r = notMeasured(p, *setup)
			r.Env = s.Environment(ctx)
		case ctx.Err() != nil:
			r = notMeasured(p, dump.Failure{Reason: "not measured: " + ctx.Err().Error()})
		default:
			if uerr := s.UseCase(ctx, c.Bench); uerr != nil {
				r = notMeasured(p, dump.Failure{Reason: fmt.Sprintf("case %s: %v", c.Name, uerr)})
				break
			}
			s.Step("case " + c.Name)
			r = Decide(ctx, s, p)
			profileResult(ctx, s, r, p.Profile, p.Serve, c.Bench.OutDir)
			describe(ctx, s, r, c.Bench.Model, c.Bench.Prompt)
		}
		r.Case = c.Name
		if r.Model == "" {
			r.Model = c.Bench.Model
		}
		if r.Prompt == "" {
			r.Prompt = c.Bench.Prompt
		}
		results = append(results, r)
		if done != nil {
			done(r)
		}
	}
	return results, ctx.Err()
}

// notMeasured is the failed result of a case whose runs never started.
func notMeasured(p Plan, f dump.Failure) *report.Result {
	r := report.Compare(dump.Side{}, dump.Side{}, p.Options)
	r.Fail(f)
	return r
}
