package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/report"
)

// cmdAction is the GitHub Action: inputs and event in, a measurement, then
// the results where people look (files, step summary, outputs, the PR
// comment), in an order that loses nothing when GitHub fails.
func cmdAction(ctx context.Context, e env) error {
	gha := githubactions.New(githubactions.WithGetenv(e.Getenv), githubactions.WithWriter(e.Stdout))
	get := func(name string) (string, bool) {
		// INPUT_MODEL-PATH as GitHub and go-githubactions spell it;
		// INPUT_MODEL_PATH for tools that insist on underscores.
		for _, key := range []string{"INPUT_" + strings.ToUpper(name), "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))} {
			if v, ok := lookup(e, key); ok {
				return strings.TrimSpace(v), true
			}
		}
		return "", false
	}
	// Mask the token before anything can print it, even a bad input.
	masked := map[string]bool{}
	for _, k := range []string{"INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN"} {
		if v := strings.TrimSpace(e.Getenv(k)); v != "" && !masked[v] {
			masked[v] = true
			gha.AddMask(v)
		}
	}
	cfg, err := action.ParseInputs(get)
	if err != nil {
		return &inputError{err}
	}
	if cfg.Token == "" {
		cfg.Token = strings.TrimSpace(e.Getenv("GITHUB_TOKEN"))
	}
	payload, err := os.ReadFile(e.Getenv("GITHUB_EVENT_PATH"))
	if err != nil {
		return inputErrorf("event: GITHUB_EVENT_PATH %q: %v", e.Getenv("GITHUB_EVENT_PATH"), err)
	}
	tgt, err := action.ParseEvent(e.Getenv("GITHUB_EVENT_NAME"), e.Getenv("GITHUB_REPOSITORY"), payload, cfg)
	if err != nil {
		return &inputError{err}
	}
	if tgt.Skip != "" {
		gha.Noticef("diffperf: %s", tgt.Skip)
		setOutput(gha, e, "verdict", "skipped")
		return nil
	}
	if tgt.Fork && !cfg.AllowForks {
		return inputErrorf("allow-forks: "+action.ForkRefusal, tgt.HeadRepo)
	}

	tmp := e.Getenv("RUNNER_TEMP")
	if tmp == "" {
		tmp = os.TempDir()
	}
	gpus, _ := bench.ReadGPUs(ctx, e.Environ())
	gpu := ""
	if len(gpus) > 0 {
		gpu = gpus[0].Name
	}
	key := cfg.CommentKey
	if key == "" {
		key = action.CaseKey(cfg, gpu)
	}
	out := filepath.Join(tmp, "diffperf", report.SanitizeKey(strings.ReplaceAll(key, "/", "_")))
	if err := prepareOut(out); err != nil {
		return err
	}
	repoDir := cfg.WorkingDirectory
	if !filepath.IsAbs(repoDir) && e.Getenv("GITHUB_WORKSPACE") != "" {
		repoDir = filepath.Join(e.Getenv("GITHUB_WORKSPACE"), repoDir)
	}
	spec := bench.Spec{
		Repo: repoDir, BaseRef: tgt.Base, HeadRef: tgt.Head, Template: cfg.Command, Model: cfg.ModelPath, Prompt: cfg.Prompt,
		Args: cfg.Args, Setup: cfg.Setup, PythonPath: cfg.PythonPath, Runs: cfg.Runs, MaxRuns: cfg.MaxRuns, Confirm: cfg.Confirm,
		Timeout: cfg.Timeout, OutDir: out, WorktreeRoot: filepath.Join(tmp, "diffperf-worktrees"),
		Env: e.Environ(), Secrets: []string{cfg.Token}, Options: cfg.Options, Progress: progressFor(e),
	}
	r, merr := bench.Measure(ctx, spec)
	if r == nil {
		setOutput(gha, e, "verdict", string(report.Failed))
		addSummary(gha, e, fmt.Sprintf("## 💥 diffperf: failed\n\n%s\n", report.Escape(merr.Error())))
		return merr
	}
	r.Reproduce = reproduceLine(spec, verdictFlags{opt: cfg.Options})

	var commenter *ghcomment.Commenter
	if tgt.PR > 0 && cfg.Token != "" {
		gh, err := ghcomment.NewGitHub(e.Getenv("GITHUB_API_URL"), cfg.Token, &http.Client{Timeout: time.Minute})
		if err != nil {
			return inputErrorf("%v", err)
		}
		retry := e.GitHubRetry
		if retry.Sleep == nil {
			retry = ghcomment.DefaultRetry()
		}
		commenter = &ghcomment.Commenter{GH: gh, Owner: tgt.Owner, Repo: tgt.Repo, Bot: cfg.CommentAuthor, Retry: retry,
			Warn: func(f string, a ...any) { gha.Warningf("diffperf: "+f, a...) }}
	}
	if r.Verdict == report.Regression && tgt.PR > 0 {
		labels := tgt.Labels
		if commenter != nil {
			// Fresh from the API: a label added after the push counts.
			if fresh, err := commenter.Labels(ctx, tgt.PR); err == nil {
				labels = fresh
			} else {
				gha.Warningf("diffperf: could not read the labels of #%d, using the event's: %v", tgt.PR, err)
			}
		}
		for _, l := range labels {
			if l == cfg.AcceptLabel {
				r.Accepted, r.AcceptLabel = true, l
			}
		}
	}

	// Files and outputs first: nothing measured is lost if GitHub fails.
	md := report.Markdown(r, report.RenderOptions{Marker: key, MaxChars: 1 << 30})
	mdPath, jsPath, err := writeOutputs(out, r, md)
	if err != nil {
		return errors.Join(merr, err)
	}
	addSummary(gha, e, md)
	setOutputs(gha, e, r, mdPath, jsPath)
	bench.WriteUntrusted(e.Stdout, md)

	var ghErr error
	if commenter != nil && cfg.Comment != "never" {
		create := cfg.Comment == "always" || r.Verdict != report.NoChange
		res, err := commenter.Upsert(ctx, tgt.PR, report.MarkerLine(key), create, func(max int) string {
			return report.Markdown(r, report.RenderOptions{Marker: key, MaxChars: max})
		})
		switch {
		case err != nil:
			ghErr = fmt.Errorf("PR comment: %w", err)
			gha.Errorf("diffperf: %v", ghErr)
		case res.Warning != "":
			gha.Warningf("diffperf: %s", res.Warning)
		default:
			setOutput(gha, e, "comment-url", res.URL)
			fmt.Fprintf(e.Stderr, "PR comment %s: %s\n", res.Action, res.URL)
		}
	}
	if r.Verdict == report.Regression && !r.Accepted && cfg.FailOnRegression {
		gha.Errorf("diffperf: regression: %s", r.Reason)
	}
	if err := verdictError(r, cfg.FailOnRegression, merr); err != nil {
		return err
	}
	return ghErr
}

func lookup(e env, key string) (string, bool) {
	prefix := key + "="
	for _, kv := range e.Environ() {
		if strings.HasPrefix(kv, prefix) {
			return kv[len(prefix):], true
		}
	}
	return "", false
}

// setOutput and addSummary skip what the runner did not ask for (outside
// Actions the files are not set, and go-githubactions would panic).
func setOutput(gha *githubactions.Action, e env, k, v string) {
	if e.Getenv("GITHUB_OUTPUT") != "" {
		gha.SetOutput(k, v)
	}
}

func addSummary(gha *githubactions.Action, e env, md string) {
	if e.Getenv("GITHUB_STEP_SUMMARY") != "" {
		gha.AddStepSummary(md)
	}
}

func setOutputs(gha *githubactions.Action, e env, r *report.Result, mdPath, jsPath string) {
	setOutput(gha, e, "verdict", string(r.Verdict))
	setOutput(gha, e, "report-path", mdPath)
	setOutput(gha, e, "result-path", jsPath)
	if m := r.Metric(report.MetricE2E); m != nil {
		setOutput(gha, e, "e2e-delta-pct", fmt.Sprintf("%.2f", m.DeltaPct))
		setOutput(gha, e, "base-e2e-ms", fmt.Sprintf("%.2f", m.Base.Median))
		setOutput(gha, e, "head-e2e-ms", fmt.Sprintf("%.2f", m.Head.Median))
		setOutput(gha, e, "p-value", fmt.Sprintf("%.4f", m.P))
	}
}
