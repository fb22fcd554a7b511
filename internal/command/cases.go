package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// maxCasesBytes bounds a --cases file: a list of cases is a few KiB.
const maxCasesBytes = 1 << 20

// runCasesFile is `diffperf run --cases FILE`: the cases of FILE one after
// the other on one pair of worktrees, each with its files in
// <out>/<case>/, then the merged report on stdout and in <out>/merged.md
// and merged.json.
func runCasesFile(ctx context.Context, spec bench.Spec, plan protocol.Plan, mf measureFlags, vf verdictFlags, e Env) (*finding, error) {
	name := "--cases " + mf.cases
	f, err := os.Open(mf.cases)
	if err != nil {
		return nil, input.Wrap(name, errors.Unwrap(err))
	}
	text, err := io.ReadAll(io.LimitReader(f, maxCasesBytes+1))
	f.Close()
	if err != nil {
		return nil, input.Wrap(name, err)
	}
	if len(text) > maxCasesBytes {
		return nil, input.Errorf(name, "larger than %d KiB; not a list of cases", maxCasesBytes>>10)
	}
	cases, err := action.ParseCases(string(text), action.Case{ModelPath: spec.Model, Prompt: spec.Prompt, Args: spec.Args,
		Command: spec.Template, CommandRaw: mf.command, Mode: action.ModeGenerate})
	if ie, ok := input.As(err); ok {
		ie.Name = name
	}
	if err != nil {
		return nil, err
	}
	results, merr := measureCaseList(ctx, spec, plan, cases, nil, e.Stderr)
	if results == nil {
		return nil, merr
	}
	m, err := report.Merge(results, caseNames(cases), vf.opt.Alpha)
	if err != nil {
		return nil, errors.Join(merr, err)
	}
	return &finding{m, vf.failOnRegression}, emit(e, merged(m), spec.OutDir, vf.format, nil, merr)
}

func caseNames(cases []action.Case) []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.Name
	}
	return names
}

// measureCaseList measures cases on spec's worktrees with the protocol of
// plan. Each case's dumps, logs, report.md and result.json go to
// <spec.OutDir>/<case>/, written as soon as the case is decided (without
// the secrets). The results come back in order, with the first error of
// measuring or writing; nil results mean nothing could be measured.
func measureCaseList(ctx context.Context, spec bench.Spec, plan protocol.Plan, cases []action.Case, secrets []string, log io.Writer) ([]report.CaseResult, error) {
	var pc []protocol.Case
	specs := map[string]bench.Spec{}
	for _, c := range cases {
		dir := filepath.Join(spec.OutDir, c.Name)
		if err := bench.PrivateDir("out", dir); err != nil {
			return nil, err
		}
		cs := spec
		cs.Template, cs.Model, cs.Prompt, cs.Args, cs.OutDir = c.Command, c.ModelPath, c.Prompt, c.Args, dir
		specs[c.Name] = cs
		pc = append(pc, protocol.Case{Name: c.Name, Bench: bench.Case{Template: c.Command, Model: c.ModelPath, Prompt: c.Prompt, Args: c.Args, OutDir: dir}})
	}
	var out []report.CaseResult
	var werr error
	rs, err := protocol.MeasureCases(ctx, spec, plan, pc, func(r *report.Result) {
		cs := specs[r.Case]
		r.Reproduce = reproduceLine(cs, plan)
		_, jsPath, err := single(r).save(cs.OutDir, r.Render(report.RenderOptions{}), secrets)
		werr = errors.Join(werr, err)
		fmt.Fprintf(log, "case %s: %s (%s)\n", r.Case, r.Verdict, bench.Redact(comment.FirstLine(r.Reason), secrets))
		out = append(out, report.CaseResult{Name: r.Case, Source: jsPath, Result: r})
	})
	if rs == nil {
		return nil, err
	}
	return out, errors.Join(err, werr)
}
