package command

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/changepoint"
	"github.com/diffperf/diffperf/internal/dashboard"
	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/history"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
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
	repoDir := j.repoDir()
	tmp, err := j.workFolder()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	pub := history.Publisher{Repo: repoDir, Branch: j.cfg.HistoryBranch, WorkDir: dataDir, Env: proc.FilterEnv(j.e.Environ(), j.secrets())}
	j.deriveKey(ctx)
	if len(j.cfg.Cases) > 0 && j.cfg.CommentKey == "" {
		j.key = "history" // names the out folder only: each case is stored under its own name
	}
	cases := j.historyCases()
	if j.tgt.Base == "" { // schedule: against the last stored commit
		var lines []history.Line
		pub.Update = func(dir string) error { lines, _, err = history.Store{Dir: dir}.Read(); return err }
		if _, err := pub.Publish(ctx, nil, ""); err != nil {
			return fmt.Errorf("history: read %s: %w", j.cfg.HistoryBranch, err)
		}
		for _, hc := range cases {
			if pts := history.Points(history.Series(lines, hc.key), "e2e"); len(pts) > 0 {
				j.tgt.Base = pts[len(pts)-1].Commit
				break
			}
		}
		if j.tgt.Base == "" {
			return input.Errorf("base-ref", "%s: the data branch %s holds no commit of case %s yet; give base-ref, or let a push fill it first", j.tgt.Event, j.cfg.HistoryBranch, caseKeys(cases))
		}
		if head, err := (git.Repo{Dir: repoDir}).ResolveCommit(ctx, j.tgt.Head); err == nil && head == j.tgt.Base {
			j.gha.Noticef("diffperf: %s is the last stored commit already: nothing new to measure", j.tgt.Base)
			return nil
		}
	}
	defer func() { sealOutInto(&err, j.out) }()
	results, merr, werr := j.historyMeasure(ctx, tmp, cases)
	if results == nil {
		return fmt.Errorf("history: %w", merr)
	}
	var lines []history.Line
	for _, hr := range results {
		ls, err := history.FromResult(hr.r, history.Meta{Key: hr.key, CommitTimes: commitTimes(ctx, repoDir, hr.r, j.e.Stderr), Version: diffperfVersion()})
		if err != nil {
			return errors.Join(merr, werr, fmt.Errorf("history: case %s: %w", hr.key, err))
		}
		lines = append(lines, ls...)
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
	recs, more := j.confirmNew(ctx, tmp, all, st, cases)
	st = st.With(recs...)
	recs = append(recs, j.fileIssues(ctx, all, stored, st, opt)...)
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
	j.addSummary(historySummary(results, all, st, j.cfg.HistoryBranch))
	if len(j.cfg.Cases) == 0 {
		j.setOutputs(single(results[0].r), filepath.Join(j.out, "report.md"), filepath.Join(j.out, "result.json"))
	}
	if len(j.cfg.Cases) == 0 {
		return errors.Join(werr, historyFailure(results[0].r, merr))
	}
	failed := []error{werr, merr}
	for _, hr := range results {
		if hr.r.Verdict == report.Failed {
			failed = append(failed, fmt.Errorf("history: case %s: the measurement failed: %s", hr.key, hr.r.Reason))
		}
	}
	return errors.Join(failed...)
}

// histCase is one case of a history job: its key in the store and, with
// input cases, the case (nil: the job's own inputs).
type histCase struct {
	key string
	c   *action.Case
}

// histResult is a case's measurement.
type histResult struct {
	histCase
	r *report.Result
}

// historyCases are the job's cases: each case of input cases under its
// name, or the job's own inputs under its key.
func (j *actionJob) historyCases() []histCase {
	if len(j.cfg.Cases) == 0 {
		return []histCase{{key: history.KeyDir(j.key)}}
	}
	var out []histCase
	for i := range j.cfg.Cases {
		out = append(out, histCase{key: history.KeyDir(j.cfg.Cases[i].Name), c: &j.cfg.Cases[i]})
	}
	return out
}

func caseKeys(cases []histCase) string {
	var keys []string
	for _, hc := range cases {
		keys = append(keys, hc.key)
	}
	return strings.Join(keys, ", ")
}

// historyMeasure measures the job's cases, the pushed commit against the
// one before it: the job's own inputs, or each case of input cases one
// after the other on one pair of worktrees, each with its files in its
// own folder of the out folder. nil results mean nothing was measured;
// merr is the measurement's error, werr the error of writing its files.
func (j *actionJob) historyMeasure(ctx context.Context, tmp string, cases []histCase) (results []histResult, merr, werr error) {
	if cases[0].c == nil {
		r, merr := j.measure(ctx)
		if r == nil {
			return nil, merr, nil
		}
		_, _, werr := j.save(single(r))
		return []histResult{{cases[0], r}}, merr, werr
	}
	j.out = filepath.Join(tmp, "out", keyFolder(j.key))
	if err := prepareOut(j.out); err != nil {
		return nil, err, nil
	}
	j.setOutput("out-dir", j.out)
	if err := j.confine(ctx); err != nil {
		return nil, err, nil
	}
	spec, plan := j.benchSpec(tmp, j.secrets())
	rs, merr := measureCaseList(ctx, spec, plan, j.cfg.Cases, j.redactions(), j.e.Stderr)
	for _, cr := range rs {
		for _, hc := range cases {
			if hc.c.Name == cr.Name {
				results = append(results, histResult{hc, cr.Result})
			}
		}
	}
	return results, merr, nil
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

// confirmNew measures again the change points of the job's cases that no
// confirmation record covers yet, at most maxConfirmations of them: each
// commit against the point before it, with the usual protocol and a
// confirming batch. It returns the records and the lines of the
// measurements.
func (j *actionJob) confirmNew(ctx context.Context, tmp string, all []history.MetricSeries, st history.State, cases []histCase) ([]history.Record, []history.Line) {
	type todo struct {
		hc              histCase
		commit, against string
		cps             map[string]changepoint.ChangePoint
	}
	var list []*todo
	for _, ms := range all {
		at := slices.IndexFunc(cases, func(hc histCase) bool { return hc.key == ms.Key })
		if at < 0 {
			continue
		}
		for _, cp := range ms.ChangePoints {
			if _, done := st.Confirmation(cp.Commit, ms.Key); done || cp.Index == 0 {
				continue
			}
			i := slices.IndexFunc(list, func(t *todo) bool { return t.commit == cp.Commit && t.hc.key == ms.Key })
			if i < 0 {
				list = append(list, &todo{hc: cases[at], commit: cp.Commit, against: ms.Points[cp.Index-1].Commit, cps: map[string]changepoint.ChangePoint{}})
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
		rec := history.Record{Kind: history.KindConfirmation, Commit: t.commit, Case: t.hc.key, Against: t.against, Time: time.Now().UTC().Format(time.RFC3339)}
		r, err := j.remeasure(ctx, tmp, t.against, t.commit, t.hc)
		if r == nil {
			rec.Failure = err.Error()
			j.gha.Warningf("diffperf: could not measure the change point of %s at %s again: %v", t.hc.key, t.commit, err)
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
			if ls, lerr := history.FromResult(r, history.Meta{Key: t.hc.key, CommitTimes: commitTimes(ctx, j.repoDir(), r, j.e.Stderr), Version: diffperfVersion()}); lerr == nil {
				lines = append(lines, ls...)
			}
		}
		status := "not confirmed: stays suspected"
		if rec.Confirmed {
			status = "confirmed"
		}
		fmt.Fprintf(j.e.Stderr, "history: change point of %s at %s measured again against %s: %s\n", t.hc.key, t.commit, t.against, status)
		recs = append(recs, rec)
	}
	return recs, lines
}

// remeasure measures head against base with the job's protocol and a
// confirming batch, for case hc, in a folder of the out folder of its
// own.
func (j *actionJob) remeasure(ctx context.Context, tmp, base, head string, hc histCase) (*report.Result, error) {
	saved, out := *j.tgt, j.out
	defer func() { *j.tgt, j.out = saved, out }()
	j.tgt.Base, j.tgt.Head = base, head
	name := "confirm-" + head[:min(12, len(head))]
	if hc.c != nil {
		name = "confirm-" + hc.c.Name + "-" + head[:min(12, len(head))]
	}
	j.out = filepath.Join(out, name)
	if err := prepareOut(j.out); err != nil {
		return nil, err
	}
	spec, plan := j.benchSpec(filepath.Join(tmp, "confirm"), j.secrets())
	if hc.c != nil {
		spec.Template, spec.Model, spec.Prompt, spec.Args = hc.c.Command, hc.c.ModelPath, hc.c.Prompt, hc.c.Args
	}
	plan.Confirm = true
	r, err := protocol.Measure(ctx, spec, plan)
	if r != nil {
		if hc.c != nil {
			r.Case = hc.c.Name
		}
		_, _, werr := j.save(single(r))
		err = errors.Join(err, werr)
		if r.Verdict == report.Failed {
			return nil, fmt.Errorf("the measurement failed: %s", r.Reason)
		}
	}
	return r, err
}

// fileIssues opens, or edits, one issue per commit with confirmed change
// points, dispatches the bisect of those whose range spans several
// commits, and returns the records of the issues and the bisects. An
// issue that was closed or labelled invalid is left alone and recorded
// so; it is never filed again.
func (j *actionJob) fileIssues(ctx context.Context, all []history.MetricSeries, lines []history.Line, st history.State, opt changepoint.Options) []history.Record {
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
		d := history.Draft(commit, moved[commit], lines, st, j.repoURL(), j.draftOptions(ctx))
		got, err := j.fileIssue(ctx, c, d, st, all, opt.MinSegment)
		if err != nil {
			j.gha.Warningf("diffperf: the issue of the change point at %s: %v", commit, err)
			continue
		}
		st = st.With(got...)
		recs = append(recs, got...)
		if is, ok := st.Issue(commit); ok {
			if b := j.dispatchBisect(ctx, c, d, is, st); b != nil {
				st = st.With(*b)
				recs = append(recs, *b)
			}
		}
	}
	return recs
}

// fileIssue opens or edits the issue of draft d, and returns the records
// of what it found: the issue at d's commit and, when the change points
// moved there from another commit, the record that the old one moved.
func (j *actionJob) fileIssue(ctx context.Context, c *ghcomment.Commenter, d history.IssueDraft, st history.State, all []history.MetricSeries, window int) ([]history.Record, error) {
	marker := history.IssueMarker(d.Commit)
	now := time.Now().UTC().Format(time.RFC3339)
	var series []string
	for _, m := range d.Moved {
		if id := history.SeriesID(m.Series.Key, m.Series.Metric); !slices.Contains(series, id) {
			series = append(series, id)
		}
	}
	rec := history.Record{Kind: history.KindIssue, Commit: d.Commit, Time: now, Series: series, Label: d.Label}
	old, known := st.IssueFor(d.Commit, d.Label, d.Moved, all, window)
	var out []history.Record
	if known && old.Commit != d.Commit {
		fmt.Fprintf(j.e.Stderr, "history: the change point of issue #%d moved from %s to %s\n", old.Issue, old.Commit, d.Commit)
		out = append(out, history.Record{Kind: history.KindIssue, Commit: old.Commit, Issue: old.Issue, IssueURL: old.IssueURL,
			IssueState: history.IssueMoved, MovedTo: d.Commit, Series: old.Series, Label: old.Label, Time: now})
	}
	if known && (old.IssueState == "closed" || old.IssueState == history.LabelInvalid) {
		if old.Commit == d.Commit {
			return nil, nil // closed or invalid: never again
		}
		rec.Issue, rec.IssueURL, rec.IssueState = old.Issue, old.IssueURL, old.IssueState
		return append(out, rec), nil
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
		return append(out, rec), nil
	}
	rec.Issue, rec.IssueURL, rec.IssueState = is.GetNumber(), is.GetHTMLURL(), "open"
	labels := []string{}
	for _, l := range is.Labels {
		labels = append(labels, l.GetName())
	}
	switch {
	case slices.Contains(labels, history.LabelInvalid):
		rec.IssueState = "invalid"
		return append(out, rec), nil
	case is.GetState() == "closed":
		rec.IssueState = "closed"
		return append(out, rec), nil
	}
	body := history.KeepBisect(d.Body, is.GetBody())
	if is.GetTitle() == d.Title && is.GetBody() == body && slices.Contains(labels, d.Label) {
		return append(out, rec), nil
	}
	want := []string{d.Label}
	for _, l := range labels {
		if l != history.LabelRegression && l != history.LabelImprovement {
			want = append(want, l)
		}
	}
	if _, err := c.EditIssue(ctx, is.GetNumber(), d.Title, body, want); err != nil {
		return nil, err
	}
	fmt.Fprintf(j.e.Stderr, "history: issue #%d edited: %s\n", is.GetNumber(), is.GetHTMLURL())
	return append(out, rec), nil
}

// dispatchBisect dispatches input bisect-workflow (good, bad,
// issue-number) for the open issue is of draft d when d's range spans
// several commits and no bisect of that range was dispatched yet, and
// returns its record. A failure is a warning: the next job tries again.
func (j *actionJob) dispatchBisect(ctx context.Context, c *ghcomment.Commenter, d history.IssueDraft, is history.Record, st history.State) *history.Record {
	if j.cfg.BisectWorkflow == "" || d.Good == "" || is.IssueState != "open" || is.Issue == 0 {
		return nil
	}
	if b, ok := st.Bisect(d.Commit); ok && b.Against == d.Good {
		return nil
	}
	ref := j.e.Getenv("GITHUB_REF_NAME")
	if ref == "" {
		j.gha.Warningf("diffperf: no GITHUB_REF_NAME: the bisect of %s..%s (#%d) is not dispatched", shortSHA(d.Good), shortSHA(d.Bad), is.Issue)
		return nil
	}
	inputs := map[string]string{"good": d.Good, "bad": d.Bad, "issue-number": strconv.Itoa(is.Issue)}
	if err := c.Dispatch(ctx, j.cfg.BisectWorkflow, ref, inputs); err != nil {
		j.gha.Warningf("diffperf: could not dispatch %s to bisect %s..%s (#%d): %s", j.cfg.BisectWorkflow, shortSHA(d.Good), shortSHA(d.Bad), is.Issue, githubMessage(err))
		return nil
	}
	fmt.Fprintf(j.e.Stderr, "history: dispatched %s on %s to bisect %s..%s for #%d\n", j.cfg.BisectWorkflow, ref, d.Good, d.Bad, is.Issue)
	return &history.Record{Kind: history.KindBisect, Commit: d.Commit, Against: d.Good, Issue: is.Issue, Time: time.Now().UTC().Format(time.RFC3339)}
}

// draftOptions are the links of the job's issues: the dashboard's case
// pages and the bisect workflow, and the commits' parents in the
// checkout.
func (j *actionJob) draftOptions(ctx context.Context) history.DraftOptions {
	opt := history.DraftOptions{BisectWorkflow: j.cfg.BisectWorkflow, Parent: func(commit string) string {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		parent, err := (git.Repo{Dir: j.repoDir()}).ResolveCommit(ctx, commit+"^")
		if err != nil {
			return ""
		}
		return parent
	}}
	if base := j.dashboardURL(); base != "" {
		opt.CaseURL = func(key string) string { return base + "/" + dashboard.CasePath(key) }
	}
	return opt
}

// dashboardURL is the dashboard's address: input dashboard-url, else the
// repository's GitHub Pages site on github.com (https://<owner>.github.io/
// <repo>, or the root for a repository named <owner>.github.io); "" on
// another server without the input.
func (j *actionJob) dashboardURL() string {
	if j.cfg.DashboardURL != "" {
		return j.cfg.DashboardURL
	}
	if server := strings.TrimRight(j.e.Getenv("GITHUB_SERVER_URL"), "/"); server != "" && server != "https://github.com" {
		return ""
	}
	owner := strings.ToLower(j.tgt.Owner)
	if owner == "" || j.tgt.Repo == "" {
		return ""
	}
	if strings.EqualFold(j.tgt.Repo, owner+".github.io") {
		return "https://" + owner + ".github.io"
	}
	return "https://" + owner + ".github.io/" + j.tgt.Repo
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
func historySummary(results []histResult, all []history.MetricSeries, st history.State, branch string) string {
	var b strings.Builder
	r := results[0].r
	b.WriteString(report.HistoryHeading(r.Head.SHA, r.Base.SHA))
	for _, hr := range results {
		if m := hr.r.Metric(report.MetricE2E); m != nil {
			name := ""
			if len(results) > 1 {
				name = report.Escape(hr.key) + ": "
			}
			fmt.Fprintf(&b, "%sE2E %s → %s ms (%s, p %s). Both sides are kept on %s.\n\n", name, report.FormatNum(round2(m.Base.Median)), report.FormatNum(round2(m.Head.Median)),
				report.FormatPct(m.DeltaPct), report.FormatP(m.P), report.Ref(branch))
		}
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
