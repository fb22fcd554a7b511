package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// sessionMeasurer is the bisect.Measurer of the command: each comparison
// is a measurement of its own, as `diffperf run` makes one (protocol.Measure
// over a bench.Session with the older commit as base). Since the base is
// an ancestor of the head, the merge base is the base itself.
//
// Its cost per comparison: two worktrees checked out, setup run in each,
// and every run a fresh process (in mode serve, a server launch per pair
// and side, each loading the model). A bisect step makes two comparisons.
type sessionMeasurer struct {
	spec bench.Spec
	n    int
	// cleanup gathers errors that did not stop a comparison (a worktree
	// that could not be removed), reported at the end.
	cleanup error
}

// Compare measures a against b in a folder of the out folder of its own,
// NN-<a>-<b>, with that comparison's report.md and result.json.
func (m *sessionMeasurer) Compare(ctx context.Context, a, b string, plan protocol.Plan) (*report.Result, error) {
	m.n++
	spec := m.spec
	spec.BaseRef, spec.HeadRef = a, b
	spec.OutDir = filepath.Join(m.spec.OutDir, fmt.Sprintf("%02d-%.7s-%.7s", m.n, a, b))
	if err := os.Mkdir(spec.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("bisect: %w", err)
	}
	r, err := protocol.Measure(ctx, spec, plan)
	if r == nil {
		return nil, err
	}
	r.Reproduce = reproduceLine(spec, plan)
	secrets := append(append([]string{}, spec.Secrets...), bench.SecretValues(spec.Env, spec.RedactNames)...)
	if _, _, werr := single(r).save(spec.OutDir, report.Markdown(r, report.RenderOptions{}), secrets); werr != nil {
		m.cleanup = errors.Join(m.cleanup, werr)
	}
	if err != nil && ctx.Err() == nil {
		// Measured, but not cleaned up: keep going, report it at the end.
		m.cleanup = errors.Join(m.cleanup, err)
		err = nil
	}
	return r, err
}

// failed is what went wrong without stopping the bisection.
func (m *sessionMeasurer) failed() error { return m.cleanup }
