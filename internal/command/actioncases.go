package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// runMerged is the Action for several cases: input cases measured here one
// after the other, or mode merge over other jobs' results. Either way one
// merged report, one comment with its own key, one gate.
func (j *actionJob) runMerged(ctx context.Context) (*finding, error) {
	cfg, e := j.cfg, j.e
	tmp, err := j.workFolder()
	if err != nil {
		return nil, err
	}
	j.key = cfg.CommentKey
	if j.key == "" {
		j.key = action.MergedKey(e.Getenv("GITHUB_WORKFLOW"), e.Getenv("GITHUB_JOB"))
	}
	var cases []report.CaseResult
	var merr error
	if cfg.Mode == action.ModeMerge {
		var warnings []error
		var err error
		cases, warnings, err = loadResults(cfg.Results, e.Getenv("GITHUB_WORKSPACE"))
		if err == nil {
			err = onlyExpected(cases, cfg.ExpectCases, "expect-cases")
		}
		for _, w := range warnings {
			j.gha.Warningf("diffperf: %s", w)
		}
		if err == nil {
			err = sameHead(cases, j.tgt.Head)
		}
		if err == nil && len(cases) == 0 && len(cfg.ExpectCases) == 0 {
			err = input.Errorf("results", "no result.json in %s (name the cases in expect-cases to report them missing instead)", strings.Join(cfg.Results, " "))
		}
		if err != nil {
			// Mode start posted pending for the matrix: it must not stay so.
			if cerr := j.newCommenter(); cerr != nil {
				return nil, errors.Join(err, cerr)
			}
			return nil, j.failedBeforeResult(ctx, err)
		}
	}
	folder := keyFolder(j.key)
	if len(cfg.Cases) > 0 {
		// The cells of a matrix share the key (one workflow, one job) and,
		// on one machine, perhaps RUNNER_TEMP: their cases tell them apart.
		h := sha256.Sum256([]byte(strings.Join(caseNames(cfg.Cases), "\x00")))
		folder += "-" + hex.EncodeToString(h[:4])
	}
	j.out = filepath.Join(tmp, "out", folder)
	if err := prepareOut(j.out); err != nil {
		return nil, err
	}
	j.setOutput("out-dir", j.out)
	expect := cfg.ExpectCases
	if len(cfg.Cases) > 0 {
		if err := j.confine(ctx); err != nil {
			return nil, err
		}
		spec, plan := j.benchSpec(tmp, j.secrets())
		j.startMeasuring(ctx)
		if cases, merr = measureCaseList(ctx, spec, plan, cfg.Cases, j.redactions(), e.Stderr); cases == nil {
			return nil, j.failedBeforeResult(ctx, merr)
		}
		expect = dedupe(append(caseNames(cfg.Cases), expect...))
	}
	m, err := report.Merge(cases, expect, cfg.Options.Alpha)
	if err != nil {
		return nil, errors.Join(merr, err)
	}
	if err := j.newCommenter(); err != nil {
		return nil, errors.Join(merr, err)
	}
	a := j.acceptance(ctx, slices.ContainsFunc(m.Cases, func(c report.MergedCase) bool { return c.Verdict == report.Regression }))
	m.AcceptLabel, m.Accepted = a.label, a.accepted
	return j.publish(ctx, merged(m), j.mergedHead(m), merr)
}

func dedupe(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// sameHead refuses, by name, a cell whose result measured another head
// than the event's (when both are full SHAs): a cell's result.json is
// another job's artifact, and the status of the merge goes on the event's
// head, never on a SHA that a cell wrote.
func sameHead(cases []report.CaseResult, head string) error {
	if !action.IsFullSHA(head) {
		return nil
	}
	for _, c := range cases {
		if sha := c.Result.Head.SHA; action.IsFullSHA(sha) && sha != head {
			return input.Errorf("results", "case %q (%s) measured head %s, not the event's head %s; a cell of another commit is refused", c.Name, c.Source, sha, head)
		}
	}
	return nil
}

// mergedHead is the SHA the merged status goes on: the event's head, and
// in mode merge always that (sameHead refused a cell of another head);
// cases measured here of an event without a full SHA (a branch name) give
// the first case's full SHA.
func (j *actionJob) mergedHead(m *report.Merged) string {
	if action.IsFullSHA(j.tgt.Head) || j.cfg.Mode == action.ModeMerge {
		return j.tgt.Head
	}
	for _, c := range m.Cases {
		if c.Result != nil && action.IsFullSHA(c.Result.Head.SHA) {
			return c.Result.Head.SHA
		}
	}
	return j.tgt.Head
}
