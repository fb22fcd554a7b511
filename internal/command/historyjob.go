package command

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/changepoint"
	"github.com/diffperf/diffperf/internal/dashboard"
	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/history"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
)

// maxConfirmations bounds the change points one history job measures
// again; the others wait for the next job.
const maxConfirmations = 2

// SiteFolder is where the history job writes the dashboard on the data
// branch: GitHub Pages serves a branch's root or its /docs only.
const SiteFolder = "docs"

// history is mode history: measure the pushed commit (or the tip) against
// the commit before it, append both sides to the data branch, look for
// change points, measure new ones again, file one issue per confirmed
// change point's commit and write the dashboard. It never exits 1: the
// gate is for pull requests. It exits 3 when it could not measure or
// store; a GitHub failure is a warning, as the store keeps everything and
// the next job tries again.
func (j *actionJob) history(ctx context.Context) (err error) {
	if len(j.cfg.Cases) > 0 {
		return input.Errorf("cases", "mode history measures one case (its own inputs); run one history job per case")
	}
	repoDir := j.repoDir()
	tmp, err := j.workFolder()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	pub := history.Publisher{Repo: repoDir, Branch: j.cfg.HistoryBranch, WorkDir: dataDir, Env: bench.FilterEnv(j.e.Environ(), j.secrets())}
	j.deriveKey(ctx)
	if j.tgt.Base == "" { // schedule: against the last stored commit
		var lines []history.Line
		pub.Update = func(dir string) error { lines, _, err = history.Store{Dir: dir}.Read(); return err }
		if _, err := pub.Publish(ctx, nil, ""); err != nil {
			return fmt.Errorf("history: read %s: %w", j.cfg.HistoryBranch, err)
		}
		pts := history.Points(history.Series(lines, history.KeyDir(j.key)), "e2e")
		if len(pts) == 0 {
			return input.Errorf("base-ref", "%s: the data branch %s holds no commit of case %s yet; give base-ref, or let a push fill it first", j.tgt.Event, j.cfg.HistoryBranch, j.key)
		}
		j.tgt.Base = pts[len(pts)-1].Commit
		if head, err := (bench.Git{Dir: repoDir}).ResolveCommit(ctx, j.tgt.Head); err == nil && head == j.tgt.Base {
			j.gha.Noticef("diffperf: %s is the last stored commit already: nothing new to measure", j.tgt.Base)
			return nil
		}
	}
	defer func() { sealOutInto(&err, j.out) }()
	r, merr := j.measure(ctx)
	if r == nil {
		return fmt.Errorf("history: %w", merr)
	}
	_, _, werr := j.save(single(r))
	lines, err := history.FromResult(r, history.Meta{Key: j.key, CommitTimes: commitTimes(ctx, repoDir, r, j.e.Stderr), Version: diffperfVersion()})
	if err != nil {
		return errors.Join(merr, werr, fmt.Errorf("history: %w", err))
	}
	var stored []history.Line
	var st history.State
	pub.Update = func(dir string) error {
		var err error
		if stored, _, err = (history.Store{Dir: dir}).Read(); err != nil {
			return err
		}
		st, _, err = history.ReadState(dir)
		return err
	}
	res, err := pub.Publish(ctx, lines, history.CommitMessage(lines))
	if err != nil {
		return errors.Join(merr, werr, fmt.Errorf("history: store %s: %w", j.cfg.HistoryBranch, err))
	}
	fmt.Fprintf(j.e.Stderr, "history: %d line(s) added to %s\n", res.Added, j.cfg.HistoryBranch)

	opt := changepoint.DefaultOptions()
	all, err := history.Analyse(stored, nil, opt)
	if err != nil {
		return errors.Join(merr, werr, fmt.Errorf("history: change points: %w", err))
	}
	recs, more := j.confirmNew(ctx, tmp, all, st)
	st = st.With(recs...)
	recs = append(recs, j.fileIssues(ctx, all, stored, st)...)
	st = st.With(recs...)

	repoURL := j.repoURL()
	pub.Update = func(dir string) error {
		if _, err := history.AppendState(dir, recs); err != nil {
			return err
		}
		return writeSite(dir, filepath.Join(dir, SiteFolder), repoURL, time.Now())
	}
	if _, err := pub.Publish(ctx, more, history.CommitMessage(append(slices.Clone(more), lines...))+" (change points)"); err != nil {
		return errors.Join(merr, werr, fmt.Errorf("history: store the change points on %s: %w", j.cfg.HistoryBranch, err))
	}
	j.addSummary(historySummary(r, all, st, j.cfg.HistoryBranch))
	j.setOutputs(single(r), filepath.Join(j.out, "report.md"), filepath.Join(j.out, "result.json"))
	return errors.Join(werr, historyFailure(r, merr))
}

// historyFailure keeps a failed measurement's error (exit 3) and drops the
// verdict: a regression is reported, never an exit 1.
func historyFailure(r *report.Result, merr error) error {
	if merr != nil || r.Verdict == report.Failed {
		return errors.Join(merr, fmt.Errorf("history: the measurement failed: %s", r.Reason))
	}
	return nil
}

// repoDir is the checkout of the measured repository.
func (j *actionJob) repoDir() string {
	dir := j.cfg.WorkingDirectory
	if !filepath.IsAbs(dir) && j.e.Getenv("GITHUB_WORKSPACE") != "" {
		dir = filepath.Join(j.e.Getenv("GITHUB_WORKSPACE"), dir)
	}
	return dir
}

// repoURL is the repository's web address, for commit links.
func (j *actionJob) repoURL() string {
	server := strings.TrimRight(j.e.Getenv("GITHUB_SERVER_URL"), "/")
	if server == "" {
		server = "https://github.com"
	}
	return server + "/" + j.tgt.Owner + "/" + j.tgt.Repo
}

// confirmNew measures again the change points of the job's case that no
// confirmation record covers yet, at most maxConfirmations commits: each
// commit against the point before it, with the usual protocol and a
// confirming batch. It returns the records and the lines of the
// measurements.
func (j *actionJob) confirmNew(ctx context.Context, tmp string, all []history.MetricSeries, st history.State) ([]history.Record, []history.Line) {
	key := history.KeyDir(j.key)
	type todo struct {
		commit, against string
		cps             map[string]changepoint.ChangePoint
	}
	var list []*todo
	for _, ms := range all {
		if ms.Key != key {
			continue
		}
		for _, cp := range ms.ChangePoints {
			if _, done := st.Confirmation(cp.Commit, key); done || cp.Index == 0 {
				continue
			}
			i := slices.IndexFunc(list, func(t *todo) bool { return t.commit == cp.Commit })
			if i < 0 {
				list = append(list, &todo{commit: cp.Commit, against: ms.Points[cp.Index-1].Commit, cps: map[string]changepoint.ChangePoint{}})
				i = len(list) - 1
			}
			list[i].cps[ms.Metric] = cp
		}
	}
	var recs []history.Record
	var lines []history.Line
	for n, t := range list {
		if n == maxConfirmations {
			j.gha.Noticef("diffperf: %d more change point(s) wait for the next job to be measured again", len(list)-n)
			break
		}
		rec := history.Record{Kind: history.KindConfirmation, Commit: t.commit, Case: key, Against: t.against, Time: time.Now().UTC().Format(time.RFC3339)}
		r, err := j.remeasure(ctx, tmp, t.against, t.commit)
		if r == nil {
			rec.Failure = err.Error()
			j.gha.Warningf("diffperf: could not measure the change point at %s again: %v", t.commit, err)
			recs = append(recs, rec)
			continue
		}
		for _, id := range sortedKeys(t.cps) {
			cp := t.cps[id]
			cm := history.ConfirmedMetric{ID: id, P: 1}
			held := true
			for res := r; res != nil; res = res.Confirmation {
				m := res.Metric(id)
				if m == nil {
					held = false
					break
				}
				if res == r {
					cm.ChangePct, cm.P = m.DeltaPct, m.P
				}
				held = held && m.P < j.cfg.Options.Alpha && (m.DeltaPct > 0) == (cp.ChangePct > 0)
			}
			cm.Held = held
			rec.Confirmed = rec.Confirmed || held
			rec.Metrics = append(rec.Metrics, cm)
		}
		if err == nil {
			if ls, lerr := history.FromResult(r, history.Meta{Key: j.key, CommitTimes: commitTimes(ctx, j.repoDir(), r, j.e.Stderr), Version: diffperfVersion()}); lerr == nil {
				lines = append(lines, ls...)
			}
		}
		status := "not confirmed: stays suspected"
		if rec.Confirmed {
			status = "confirmed"
		}
		fmt.Fprintf(j.e.Stderr, "history: change point at %s measured again against %s: %s\n", t.commit, t.against, status)
		recs = append(recs, rec)
	}
	return recs, lines
}

// remeasure measures head against base with the job's protocol and a
// confirming batch, in a folder of the out folder of its own.
func (j *actionJob) remeasure(ctx context.Context, tmp, base, head string) (*report.Result, error) {
	saved, out := *j.tgt, j.out
	defer func() { *j.tgt, j.out = saved, out }()
	j.tgt.Base, j.tgt.Head = base, head
	j.out = filepath.Join(out, "confirm-"+head[:min(12, len(head))])
	if err := prepareOut(j.out); err != nil {
		return nil, err
	}
	spec, plan := j.benchSpec(filepath.Join(tmp, "confirm"), j.secrets())
	plan.Confirm = true
	r, err := protocol.Measure(ctx, spec, plan)
	if r != nil {
		_, _, werr := j.save(single(r))
		err = errors.Join(err, werr)
		if r.Verdict == report.Failed {
			return nil, fmt.Errorf("the measurement failed: %s", r.Reason)
		}
	}
	return r, err
}

// fileIssues opens, or edits, one issue per commit with confirmed change
// points, and returns the records of the issues. An issue that was closed
// or labelled invalid is left alone and recorded so; it is never filed
// again.
func (j *actionJob) fileIssues(ctx context.Context, all []history.MetricSeries, lines []history.Line, st history.State) []history.Record {
	commits, moved := history.ConfirmedByCommit(all, st)
	if len(commits) == 0 || j.cfg.Token == "" {
		return nil
	}
	c, err := j.issueClient()
	if err != nil {
		j.gha.Warningf("diffperf: issues: %v", err)
		return nil
	}
	var recs []history.Record
	for _, commit := range commits {
		d := history.Draft(commit, moved[commit], lines, st, j.repoURL())
		rec, err := j.fileIssue(ctx, c, d, st)
		if err != nil {
			j.gha.Warningf("diffperf: the issue of the change point at %s: %v", commit, err)
			continue
		}
		if rec != nil {
			recs = append(recs, *rec)
		}
	}
	return recs
}

func (j *actionJob) fileIssue(ctx context.Context, c *ghcomment.Commenter, d history.IssueDraft, st history.State) (*history.Record, error) {
	marker := history.IssueMarker(d.Commit)
	now := time.Now().UTC().Format(time.RFC3339)
	rec := &history.Record{Kind: history.KindIssue, Commit: d.Commit, Time: now}
	old, known := st.Issue(d.Commit)
	if known && old.IssueState != "open" {
		return nil, nil // closed or invalid: never again
	}
	var is *github.Issue
	var err error
	if known && old.Issue != 0 {
		is, err = c.Issue(ctx, old.Issue)
	} else {
		for _, label := range []string{history.LabelRegression, history.LabelImprovement} {
			list, lerr := c.IssuesWithLabel(ctx, label)
			if lerr != nil {
				return nil, lerr
			}
			for _, x := range list {
				if x.GetUser().GetLogin() == j.cfg.CommentAuthor && strings.HasPrefix(x.GetBody(), marker) {
					is = x
					break
				}
			}
			if is != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if is == nil {
		created, err := c.CreateIssue(ctx, marker, d.Title, d.Body, []string{d.Label})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(j.e.Stderr, "history: issue #%d opened: %s\n", created.GetNumber(), created.GetHTMLURL())
		rec.Issue, rec.IssueURL, rec.IssueState = created.GetNumber(), created.GetHTMLURL(), "open"
		return rec, nil
	}
	rec.Issue, rec.IssueURL, rec.IssueState = is.GetNumber(), is.GetHTMLURL(), "open"
	labels := []string{}
	for _, l := range is.Labels {
		labels = append(labels, l.GetName())
	}
	switch {
	case slices.Contains(labels, history.LabelInvalid):
		rec.IssueState = "invalid"
		return rec, nil
	case is.GetState() == "closed":
		rec.IssueState = "closed"
		return rec, nil
	}
	if is.GetTitle() == d.Title && is.GetBody() == d.Body && slices.Contains(labels, d.Label) {
		return rec, nil
	}
	want := []string{d.Label}
	for _, l := range labels {
		if l != history.LabelRegression && l != history.LabelImprovement {
			want = append(want, l)
		}
	}
	if _, err := c.EditIssue(ctx, is.GetNumber(), d.Title, d.Body, want); err != nil {
		return nil, err
	}
	fmt.Fprintf(j.e.Stderr, "history: issue #%d edited: %s\n", is.GetNumber(), is.GetHTMLURL())
	return rec, nil
}

// issueClient is the GitHub client of the history job's issues.
func (j *actionJob) issueClient() (*ghcomment.Commenter, error) {
	gh, err := ghcomment.NewGitHub(j.e.Getenv("GITHUB_API_URL"), j.cfg.Token, &http.Client{Timeout: time.Minute})
	if err != nil {
		return nil, input.Wrap("GITHUB_API_URL", err)
	}
	retry := j.e.GitHubRetry
	if retry.Sleep == nil {
		retry = ghcomment.DefaultRetry()
	}
	return &ghcomment.Commenter{GH: gh, Owner: j.tgt.Owner, Repo: j.tgt.Repo, Bot: j.cfg.CommentAuthor, Retry: retry,
		Warn: func(f string, a ...any) { j.gha.Warningf("diffperf: "+f, a...) }}, nil
}

// historySummary is the step summary of a history job.
func historySummary(r *report.Result, all []history.MetricSeries, st history.State, branch string) string {
	var b strings.Builder
	b.WriteString(report.HistoryHeading(r.Head.SHA, r.Base.SHA))
	if m := r.Metric(report.MetricE2E); m != nil {
		fmt.Fprintf(&b, "E2E %s → %s ms (%s, p %s). Both sides are kept on %s.\n\n", report.FormatNum(round2(m.Base.Median)), report.FormatNum(round2(m.Head.Median)),
			report.FormatPct(m.DeltaPct), report.FormatP(m.P), report.Ref(branch))
	}
	b.WriteString("| case | metric | change point | change | status | issue |\n| --- | --- | --- | ---: | --- | --- |\n")
	n := 0
	for _, ms := range all {
		for _, cp := range ms.ChangePoints {
			n++
			status, issue := cpStatus(st, ms.Key, ms.Metric, cp.Commit)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", report.Escape(ms.Key), report.Escape(ms.Metric), report.Code(shortSHA(cp.Commit)),
				report.FormatPct(cp.ChangePct), status, report.Escape(issue))
		}
	}
	if n == 0 {
		b.WriteString("| - | - | none | | | |\n")
	}
	return b.String()
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// cpStatus says what st knows of the change point at commit of case key
// and metric id: confirmed or suspected, and its issue's address.
func cpStatus(st history.State, key, id, commit string) (dashboard.Status, string) {
	rec, ok := st.Confirmation(commit, key)
	if !ok || !slices.ContainsFunc(rec.Metrics, func(m history.ConfirmedMetric) bool { return m.ID == id && m.Held }) {
		return dashboard.Suspected, ""
	}
	is, _ := st.Issue(commit)
	return dashboard.Confirmed, is.IssueURL
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
