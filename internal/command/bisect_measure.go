package command

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// checkoutMeasurer is the bisect.Measurer of the command: one Workspace
// for the whole bisection, one Checkout per commit it measures, made and
// set up the first time the commit is compared and reused by every later
// comparison, and protocol.Decide over a Pair of two Checkouts for each
// comparison.
//
// Its cost: one worktree and one setup per commit measured (the good and
// bad commits, each midpoint, the culprit's parent), not per comparison;
// every run is still a fresh process, and in mode serve each pair of a
// comparison launches each side's server (loading its model) once.
// Each comparison gets a folder NN-<a>-<b> in the out folder with its
// report.md and result.json; the runs' dumps and logs are in the out
// folder itself, named by the commit's Checkout (c<sha>-NN.json).
type checkoutMeasurer struct {
	spec bench.Spec
	ws   *bench.Workspace
	cos  map[string]*bench.Checkout // by SHA
	n    int
	// cleanup gathers errors that did not stop a comparison (a report that
	// could not be written), reported at the end.
	cleanup error
}

func newCheckoutMeasurer(ctx context.Context, spec bench.Spec) (*checkoutMeasurer, error) {
	ws, err := bench.NewWorkspace(ctx, spec)
	if err != nil {
		return nil, err
	}
	ws.Begin(ctx)
	return &checkoutMeasurer{spec: spec, ws: ws, cos: map[string]*bench.Checkout{}}, nil
}

// checkout is sha's Checkout, checked out and set up the first time.
func (m *checkoutMeasurer) checkout(ctx context.Context, sha string) (*bench.Checkout, *dump.Failure, error) {
	c, ok := m.cos[sha]
	if !ok {
		cs, err := m.ws.CheckOut(ctx, bench.Commit{Name: "c" + git.Short(sha), SHA: sha})
		if err != nil {
			return nil, nil, err
		}
		c = cs[0]
		m.cos[sha] = c
	}
	return c, c.Prepare(ctx), nil
}

// Compare measures a against b with the protocol, on the two commits'
// Checkouts. A commit whose setup fails gives a failed result (the
// bisection skips it); an error means nothing could be measured.
func (m *checkoutMeasurer) Compare(ctx context.Context, a, b string, plan protocol.Plan) (*report.Result, error) {
	m.n++
	dir := filepath.Join(m.spec.OutDir, fmt.Sprintf("%02d-%.7s-%.7s", m.n, a, b))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bisect: %w", err)
	}
	ca, fa, err := m.checkout(ctx, a)
	if err != nil {
		return nil, err
	}
	cb, fb, err := m.checkout(ctx, b)
	if err != nil {
		return nil, err
	}
	pair := bench.NewPair(ca, cb)
	var r *report.Result
	if f := cmp.Or(fa, fb); f != nil {
		base, head := pair.Sides(protocol.First)
		r = report.Compare(base, head, plan.Options)
		r.Fail(*f)
	} else {
		r = protocol.Decide(ctx, pair, plan)
	}
	if f := r.Failure; f != nil {
		// The Checkouts' names are the commits'; bisect.Measurer names
		// the sides of a comparison base (a) and head (b).
		switch f.Side {
		case ca.Name():
			f.Side = "base"
		case cb.Name():
			f.Side = "head"
		}
	}
	for _, x := range []*report.Result{r, r.Confirmation} {
		if x == nil {
			continue
		}
		x.Model, x.Prompt = cmp.Or(x.Model, m.spec.Model), cmp.Or(x.Prompt, m.spec.Prompt)
		x.Command = cb.Command(1)
	}
	r.Env = m.ws.Environment(ctx)
	spec := m.spec
	spec.BaseRef, spec.HeadRef = a, b
	r.Reproduce = reproduceLine(spec, plan)
	secrets := append(append([]string{}, spec.Secrets...), bench.SecretValues(spec.Env, spec.RedactNames)...)
	if _, _, werr := single(r).save(dir, report.Markdown(r, report.RenderOptions{}), secrets); werr != nil {
		m.cleanup = errors.Join(m.cleanup, werr)
	}
	return r, ctx.Err()
}

// Close removes every worktree of the bisection.
func (m *checkoutMeasurer) Close() error { return m.ws.Close() }

// failed is what went wrong without stopping the bisection.
func (m *checkoutMeasurer) failed() error { return m.cleanup }
