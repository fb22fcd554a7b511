package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/report"
)

// The gate: diffperf's own commit status on the head it measured (see
// docs/gate.md). Measuring jobs post pending when they start and the
// verdict's state when they end; mode start posts pending for a matrix;
// mode gate re-decides the status when the accept label comes or goes,
// and holds a fork's pull request at pending until a maintainer's /perf.

// statusOn reports whether this job posts a commit status: input status
// is on, there is a pull request, and a token to post with. Runs without a
// pull request (manual, history, bisect) post none.
func (j *actionJob) statusOn() bool {
	return j.cfg.Status && j.tgt != nil && j.tgt.PR != 0 && j.commenter != nil
}

// statusContext is the context this job's statuses go under ("" when it
// posts none), as the state line records it.
func (j *actionJob) statusContext() string {
	if !j.statusOn() {
		return ""
	}
	return action.StatusContextFor(j.cfg)
}

// runURL is the web address of this workflow run, the status's target
// while there is no comment; "" outside Actions.
func (j *actionJob) runURL() string {
	server, repo, id := j.e.Getenv("GITHUB_SERVER_URL"), j.e.Getenv("GITHUB_REPOSITORY"), j.e.Getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || id == "" {
		return ""
	}
	return server + "/" + repo + "/actions/runs/" + id
}

// postStatus posts one status on sha. A token that may not post
// (ErrStatusNotPermitted) is a warning in a measuring job, whose result
// stands; other failures are the error.
func (j *actionJob) postStatus(ctx context.Context, sha string, st ghcomment.Status) error {
	err := j.commenter.SetStatus(ctx, sha, st)
	if errors.Is(err, ghcomment.ErrStatusNotPermitted) {
		j.gha.Warningf("diffperf: could not post the status %s: %v", st.Context, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("commit status: %w", err)
	}
	fmt.Fprintf(j.e.Stderr, "diffperf: status %s on %s: %s (%s)\n", st.Context, shortSHA(sha), st.State, st.Description)
	return nil
}

// startMeasuring runs before a measurement of a pull request: the
// existing comment gets the measuring line under its marker (the final
// upsert replaces it), and the status goes to pending on the head. What
// GitHub refuses here is a warning: the measurement matters more.
func (j *actionJob) startMeasuring(ctx context.Context) {
	sha := j.tgt.Head
	if j.commenter == nil || j.tgt.PR == 0 || !action.IsFullSHA(sha) {
		return // no PR, or a branch name that the measurement resolves later
	}
	if j.cfg.Comment != "never" {
		marker := comment.MarkerLine(j.key)
		body, ok, err := j.commenter.Find(ctx, j.tgt.PR, marker)
		if err != nil {
			j.gha.Warningf("diffperf: could not read the comment to mark it measuring: %v", err)
		} else if ok {
			edited := report.WithMeasuring(body, sha, time.Now())
			if res, err := j.commenter.Upsert(ctx, j.tgt.PR, marker, false, func(int) string { return edited }); err != nil {
				j.gha.Warningf("diffperf: could not mark the comment measuring: %v", err)
			} else if res.Warning != "" {
				j.gha.Warningf("diffperf: %s", res.Warning)
			}
		}
	}
	if j.statusOn() {
		st := ghcomment.Status{State: string(report.StatusPending), Context: j.statusContext(), Description: report.PendingDescription(sha, j.gpu), TargetURL: j.runURL()}
		if err := j.postStatus(ctx, sha, st); err != nil {
			j.gha.Warningf("diffperf: %v", err)
		}
	}
}

// finalStatus posts the verdict's status on sha, the head that was
// measured (not the pull request's head now, which may have moved on).
func (j *actionJob) finalStatus(ctx context.Context, sha string, state report.StatusState, desc, commentURL string) error {
	if !j.statusOn() || !action.IsFullSHA(sha) {
		return nil
	}
	target := commentURL
	if target == "" {
		target = j.runURL()
	}
	return j.postStatus(ctx, sha, ghcomment.Status{State: string(state), Context: j.statusContext(), Description: j.redact(desc), TargetURL: target})
}

// measuredHead is the SHA a result measured, or the event's head.
func (j *actionJob) measuredHead(sha string) string {
	if action.IsFullSHA(sha) {
		return sha
	}
	return j.tgt.Head
}

// cmdStart is mode start: the no-GPU first job of a matrix posts pending
// and the measuring line on the merged comment before the cells run.
func (j *actionJob) start(ctx context.Context) error {
	if err := j.newCommenter(); err != nil {
		return err
	}
	j.key = j.cfg.CommentKey // required in mode start
	j.startMeasuring(ctx)
	return nil
}

// gate is mode gate, on pull_request_target: no GPU, no code of the pull
// request. The accept label added or removed re-decides every bot comment
// whose state line names the current head; a fork's pull request opened,
// pushed to or reopened gets pending until a maintainer's /perf. Exit 0,
// or 3 when GitHub fails.
func (j *actionJob) gate(ctx context.Context) error {
	t := j.tgt
	if j.cfg.Token == "" {
		return input.Errorf("github-token", "mode gate needs a token with statuses: write and pull-requests: write")
	}
	if err := j.newCommenter(); err != nil {
		return err
	}
	switch t.Action {
	case "labeled", "unlabeled":
		if t.Label != j.cfg.AcceptLabel {
			j.gha.Noticef("diffperf: the label %q is not the accept label %q: nothing to do", t.Label, j.cfg.AcceptLabel)
			return nil
		}
		return j.redecide(ctx)
	case "opened", "synchronize", "reopened":
		if !t.Fork {
			fmt.Fprintf(j.e.Stderr, "diffperf: #%d is not from a fork: the perf workflow measures it and posts the status\n", t.PR)
			return nil
		}
		desc := report.ForkPendingDescription(t.Head)
		err := j.commenter.SetStatus(ctx, t.Head, ghcomment.Status{State: string(report.StatusPending), Context: j.cfg.StatusContext, Description: desc, TargetURL: j.runURL()})
		if err != nil {
			return fmt.Errorf("commit status: %w", err)
		}
		j.addSummary(fmt.Sprintf("## ⏳ diffperf: waiting for a maintainer\n\n#%d comes from a fork (%s): the status **%s** on %s stays pending until a maintainer comments `/perf`.\n",
			t.PR, report.Escape(t.HeadRepo), report.Escape(j.cfg.StatusContext), report.Code(t.Head)))
		fmt.Fprintf(j.e.Stderr, "diffperf: status %s on %s: pending (%s)\n", j.cfg.StatusContext, shortSHA(t.Head), desc)
		return nil
	}
	fmt.Fprintf(j.e.Stderr, "diffperf: pull request activity %q changes nothing of the gate\n", t.Action)
	return nil
}

// redecide posts the status of every regression the bot's comments record
// for the pull request's current head again, accepted or not as the
// labels read now say, and edits those comments' headlines to match.
func (j *actionJob) redecide(ctx context.Context) error {
	c, t := j.commenter, j.tgt
	pr, err := c.PullRequest(ctx, t.PR)
	if err != nil {
		return err
	}
	head := pr.GetHead().GetSHA()
	labels, err := c.Labels(ctx, t.PR)
	if err != nil {
		return err
	}
	accepted := slices.Contains(labels, j.cfg.AcceptLabel)
	comments, err := c.BotComments(ctx, t.PR)
	if err != nil {
		return err
	}
	n := 0
	for _, cm := range comments {
		st, ok := report.ParseState(cm.GetBody())
		if !ok || st.Head != head || st.Context == "" || st.Verdict != report.Regression {
			continue
		}
		n++
		if st.Accepted != accepted {
			change := report.Unaccept
			if accepted {
				change = report.Accept
			}
			if body, err := change(cm.GetBody(), j.cfg.AcceptLabel); err != nil {
				j.gha.Warningf("diffperf: comment %d: %v", cm.GetID(), err)
			} else if _, err := c.EditComment(ctx, cm.GetID(), body); err != nil {
				return fmt.Errorf("PR comment: %w", err)
			}
		}
		desc := fmt.Sprintf("regression at %s; %s", shortSHA(head), report.AcceptHint(j.cfg.AcceptLabel))
		if accepted {
			desc = "regression accepted by label " + j.cfg.AcceptLabel
			if t.Action == "labeled" && t.Sender != "" {
				desc += " (added by @" + t.Sender + ")"
			}
		}
		state := report.GateState(report.Regression, accepted)
		if err := c.SetStatus(ctx, head, ghcomment.Status{State: string(state), Context: st.Context, Description: desc, TargetURL: cm.GetHTMLURL()}); err != nil {
			return fmt.Errorf("commit status: %w", err)
		}
		fmt.Fprintf(j.e.Stderr, "diffperf: status %s on %s: %s (%s)\n", st.Context, shortSHA(head), state, desc)
	}
	word := "accepted"
	if !accepted {
		word = "not accepted"
	}
	if n == 0 {
		j.gha.Noticef("diffperf: no comment records a regression at the head %s of #%d: nothing to re-decide", shortSHA(head), t.PR)
		return nil
	}
	j.addSummary(fmt.Sprintf("## diffperf: gate re-decided\n\n%d regression(s) measured at %s are now %s (label **%s**); nothing was measured.\n",
		n, report.Code(head), word, report.Escape(j.cfg.AcceptLabel)))
	return nil
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
