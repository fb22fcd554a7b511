package command

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"unicode/utf8"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/bisect"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
)

// bisect is mode bisect: find the commit between inputs good and bad that
// made the change, write the report, and put it on the issue (one
// comment, and the block of the body that names the culprit) or the pull
// request. It exits 0 with or without a culprit.
func (j *actionJob) bisect(ctx context.Context) (err error) {
	if len(j.cfg.Cases) > 0 {
		return input.Errorf("cases", "mode bisect measures one case (its own inputs)")
	}
	tmp, err := j.workFolder()
	if err != nil {
		return err
	}
	j.out = filepath.Join(tmp, "out", "bisect")
	if err := prepareOut(j.out); err != nil {
		return err
	}
	defer func() { sealOutInto(&err, j.out) }()
	j.setOutput("out-dir", j.out)
	if err := j.confine(ctx); err != nil {
		return err
	}
	spec, plan := j.benchSpec(tmp, j.secrets())
	rng, err := firstParentRange(ctx, git.Repo{Dir: spec.Repo, Env: proc.FilterEnv(j.e.Environ(), j.secrets())}, j.tgt.Base, j.tgt.Head, "good", "bad")
	if err != nil {
		return err
	}
	spec.BaseRef, spec.HeadRef = rng.Good.SHA, rng.Commits[len(rng.Commits)-1].SHA
	key := j.bisectKey()
	res, md, _, merr := runBisect(ctx, spec, plan, rng, bisectReproduce(spec, plan), key, j.e)
	if res == nil {
		return merr
	}
	md = j.redact(md)
	j.addSummary(md)
	verdict := "no-culprit"
	if res.Culprit != nil {
		verdict = "culprit"
	}
	j.setOutput("verdict", verdict)
	j.setOutput("report-path", filepath.Join(j.out, "bisect.md"))
	j.setOutput("result-path", filepath.Join(j.out, "bisect.json"))
	bench.WriteUntrusted(j.e.Stdout, md)
	return errors.Join(merr, j.postBisect(ctx, res, key, md))
}

// bisectKey is the marker key of the bisect comment: one per issue or
// pull request (and per comment-key, when given).
func (j *actionJob) bisectKey() string {
	if j.cfg.CommentKey != "" {
		return bisect.Marker + "-" + j.cfg.CommentKey
	}
	return bisect.Marker
}

// postBisect upserts the report as a comment on j.tgt.PR and, for an
// issue (input issue-number), writes the block that names the culprit
// into its body.
func (j *actionJob) postBisect(ctx context.Context, res *bisect.Result, key, md string) error {
	if j.tgt.PR == 0 {
		return nil
	}
	if j.cfg.Token == "" {
		j.gha.Warningf("diffperf: no github-token: the report is not posted on #%d", j.tgt.PR)
		return nil
	}
	if err := j.newCommenter(); err != nil {
		return err
	}
	out, err := j.commenter.Upsert(ctx, j.tgt.PR, comment.MarkerLine(key), true, func(max int) string {
		if utf8.RuneCountInString(md) <= max {
			return md
		}
		const cut = "\n\n…(cut to fit a comment: bisect.md in the out folder has it all)\n"
		return string([]rune(md)[:max-utf8.RuneCountInString(cut)]) + cut
	})
	switch {
	case err != nil:
		return fmt.Errorf("bisect comment on #%d: %w", j.tgt.PR, err)
	case out.Warning != "":
		j.gha.Warningf("diffperf: %s", out.Warning)
		return nil
	}
	j.setOutput("comment-url", out.URL)
	fmt.Fprintf(j.e.Stderr, "bisect comment %s: %s\n", out.Action, out.URL)
	if j.cfg.IssueNumber == 0 {
		return nil
	}
	is, err := j.commenter.Issue(ctx, j.cfg.IssueNumber)
	if err != nil {
		return fmt.Errorf("bisect: read issue #%d: %w", j.cfg.IssueNumber, err)
	}
	body := bisect.WithIssueBlock(is.GetBody(), j.redact(bisect.IssueBlock(res, out.URL)))
	if body == is.GetBody() {
		return nil
	}
	labels := []string{}
	for _, l := range is.Labels {
		labels = append(labels, l.GetName())
	}
	if _, err := j.commenter.EditIssue(ctx, j.cfg.IssueNumber, is.GetTitle(), body, labels); err != nil {
		return fmt.Errorf("bisect: edit issue #%d: %w", j.cfg.IssueNumber, err)
	}
	return nil
}
