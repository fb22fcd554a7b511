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

	"github.com/sethvargo/go-githubactions"

	"github.com/diffperf/diffperf/internal/action"
	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// actionHelp is what `diffperf action --help` prints above its flags.
const actionHelp = `usage: diffperf action

The GitHub Action's entry point (also chosen when GITHUB_ACTIONS=true and
no command is given). It reads its inputs from INPUT_* variables and the
event from GITHUB_EVENT_PATH; see action.yml and docs/action.md.`

// cmdAction is the GitHub Action: inputs and event in, a measurement, then
// the results where people look (files, step summary, outputs, the PR
// comment), in an order that loses nothing when GitHub fails.
func cmdAction(ctx context.Context, e Env) (f *finding, err error) {
	j, err := configure(e)
	switch {
	case err != nil:
		return nil, err
	case j.comment != nil:
		return nil, j.perfCommand(ctx)
	case j.tgt.Skip != "":
		return nil, nil
	case j.cfg.Mode == action.ModeGate:
		return nil, j.gate(ctx) // gate.go: no GPU, no code of the pull request
	case j.cfg.Mode == action.ModeStart:
		return nil, j.start(ctx)
	case j.cfg.Mode == action.ModeHistory:
		return nil, j.history(ctx) // historyjob.go: the default branch's history
	case j.cfg.Mode == action.ModeBisect:
		return nil, j.bisect(ctx) // bisectjob.go: the commit that made a change
	}
	defer func() { sealOutInto(&err, j.out) }() // j.out is set once measuring starts
	if err := j.requestBase(ctx); err != nil {
		return nil, err
	}
	if err := j.newCommenter(); err != nil {
		return nil, err
	}
	if j.cfg.Mode == action.ModeMerge || len(j.cfg.Cases) > 0 {
		return j.runMerged(ctx) // merge.go: one comment, one gate over several cases
	}
	j.deriveKey(ctx)
	j.startMeasuring(ctx)
	r, merr := j.measure(ctx)
	if r == nil {
		return nil, j.failedBeforeResult(ctx, merr)
	}
	a := j.acceptance(ctx, r.Verdict == report.Regression)
	r.AcceptLabel, r.Accepted = a.label, a.accepted
	r.Request = j.request(ctx)
	return j.publish(ctx, single(r), j.measuredHead(r.Head.SHA), interrupted(r, merr))
}

// failedBeforeResult reports err, which left no result to publish, in the
// outputs, the step summary and the status (error, replacing the
// pending), and returns it.
func (j *actionJob) failedBeforeResult(ctx context.Context, err error) error {
	j.setOutput("verdict", string(report.Failed))
	j.addSummary(report.FailedSummary(j.redact(err.Error())))
	desc := "failed; retry with /perf (the label does not clear it): " + err.Error()
	return errors.Join(err, j.finalStatus(ctx, j.tgt.Head, report.StatusError, desc, ""))
}

// deriveKey sets the comment key: the input, or one derived from the case
// and the GPU.
func (j *actionJob) deriveKey(ctx context.Context) {
	j.key = j.cfg.CommentKey
	gpus, _ := bench.ReadGPUs(ctx, proc.FilterEnv(j.e.Environ(), j.secrets()))
	if len(gpus) > 0 {
		j.gpu = gpus[0].Name
	}
	if j.key == "" {
		j.key = action.CaseKey(j.cfg, j.gpu)
	}
}

// actionJob is one run of the Action, step by step.
type actionJob struct {
	e         Env
	gha       *githubactions.Action
	cfg       *action.Config
	tgt       *action.Target
	key       string // the comment key
	gpu       string // the first GPU's name, for the pending status
	out       string // the out folder
	commenter *ghcomment.Commenter
	comment   *action.CommentEvent // mode command: the /perf comment
	tokens    []string             // every token in the environment, masked and redacted
	sandbox   *sandbox.Sandbox     // input sandbox, resolved once (confine)
}

// configure reads the inputs and the event. The token is masked before
// anything can print it, even a bad input.
func configure(e Env) (*actionJob, error) {
	j := &actionJob{e: e, gha: githubactions.New(githubactions.WithGetenv(e.Getenv), githubactions.WithWriter(e.Stdout))}
	for _, k := range []string{"INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"} {
		if v := strings.TrimSpace(e.Getenv(k)); v != "" && !slices.Contains(j.tokens, v) {
			j.tokens = append(j.tokens, v)
			j.gha.AddMask(v)
		}
	}
	cfg, err := action.ParseInputs(j.input)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		cfg.Token = strings.TrimSpace(e.Getenv("GITHUB_TOKEN"))
	}
	j.cfg = cfg
	payload, err := os.ReadFile(e.Getenv("GITHUB_EVENT_PATH"))
	if err != nil {
		return nil, input.Errorf("event", "GITHUB_EVENT_PATH %q: %w", e.Getenv("GITHUB_EVENT_PATH"), err)
	}
	switch cfg.Mode {
	case action.ModeCommand:
		return j.configureCommand(payload)
	case action.ModeGate:
		j.tgt, err = action.ParseGateEvent(e.Getenv("GITHUB_EVENT_NAME"), e.Getenv("GITHUB_REPOSITORY"), payload)
		return j, err
	case action.ModeBisect:
		j.tgt, err = action.ParseBisectEvent(e.Getenv("GITHUB_EVENT_NAME"), e.Getenv("GITHUB_REPOSITORY"), payload, cfg)
		return j, err
	case action.ModeHistory:
		if j.tgt, err = action.ParseHistoryEvent(e.Getenv("GITHUB_EVENT_NAME"), e.Getenv("GITHUB_REPOSITORY"), e.Getenv("GITHUB_SHA"), payload, cfg); err == nil && j.tgt.Skip != "" {
			j.gha.Noticef("diffperf: %s", j.tgt.Skip)
			j.setOutput("verdict", "skipped")
		}
		return j, err
	}
	if j.tgt, err = action.ParseEvent(e.Getenv("GITHUB_EVENT_NAME"), e.Getenv("GITHUB_REPOSITORY"), payload, cfg); err != nil {
		return nil, err
	}
	if j.tgt.Skip != "" {
		j.gha.Noticef("diffperf: %s", j.tgt.Skip)
		j.setOutput("verdict", "skipped")
		return j, nil
	}
	if j.tgt.Fork && !cfg.AllowForks && cfg.Mode != action.ModeStart { // mode start runs no code of the pull request
		return nil, input.Errorf("allow-forks", action.ForkRefusal, j.tgt.HeadRepo)
	}
	return j, nil
}

// input reads an action input: INPUT_MODEL-PATH as GitHub and
// go-githubactions spell it, or INPUT_MODEL_PATH for tools that insist on
// underscores. It says whether the input is set at all.
func (j *actionJob) input(name string) (string, bool) {
	for _, key := range []string{"INPUT_" + strings.ToUpper(name), "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))} {
		prefix := key + "="
		for _, kv := range j.e.Environ() {
			if v, ok := strings.CutPrefix(kv, prefix); ok {
				return strings.TrimSpace(v), true
			}
		}
	}
	return "", false
}

// workFolder is the job's own folder for worktrees and the out folder:
// made fresh, private to this user, beside RUNNER_TEMP rather than in it
// (the runner's file-command files live there, and the sandbox hides it
// from the benchmark), or in the system's temporary folder without one.
// Output out-dir names the out folder for the upload step.
func (j *actionJob) workFolder() (string, error) {
	parent := os.TempDir()
	if tmp := j.e.Getenv("RUNNER_TEMP"); tmp != "" {
		parent = filepath.Dir(filepath.Clean(tmp))
	}
	dir, err := os.MkdirTemp(parent, "diffperf-")
	if err != nil {
		return "", fmt.Errorf("make the job's folder: %w", err)
	}
	return dir, nil
}

// keyFolder names the out folder of a comment key: the key sanitised, never
// "." or ".." (a key comes from an input or a /perf comment).
func keyFolder(key string) string {
	name := comment.SanitizeKey(strings.ReplaceAll(key, "/", "_"))
	if strings.Trim(name, ".") == "" {
		name = "key" + name
	}
	return name
}

// measure benchmarks the event's base and head in worktrees of the job's
// folder, with the results in a folder named for the comment key.
func (j *actionJob) measure(ctx context.Context) (*report.Result, error) {
	tmp, err := j.workFolder()
	if err != nil {
		return nil, err
	}
	secrets := j.secrets()
	j.out = filepath.Join(tmp, "out", keyFolder(j.key))
	if err := prepareOut(j.out); err != nil {
		return nil, err
	}
	j.setOutput("out-dir", j.out)
	if err := j.confine(ctx); err != nil {
		return nil, err
	}
	spec, plan := j.benchSpec(tmp, secrets)
	r, err := protocol.Measure(ctx, spec, plan)
	if r != nil {
		r.Reproduce = reproduceLine(spec, plan)
	}
	return r, err
}

// benchSpec is what to measure, from the inputs and the event, with the
// results in j.out and the worktrees under tmp.
func (j *actionJob) benchSpec(tmp string, secrets []string) (bench.Spec, protocol.Plan) {
	cfg, e := j.cfg, j.e
	repoDir := cfg.WorkingDirectory
	if !filepath.IsAbs(repoDir) && e.Getenv("GITHUB_WORKSPACE") != "" {
		repoDir = filepath.Join(e.Getenv("GITHUB_WORKSPACE"), repoDir)
	}
	spec := bench.Spec{
		Repo: repoDir, BaseRef: j.tgt.Base, HeadRef: j.tgt.Head, Template: cfg.Command, Model: cfg.ModelPath, Prompt: cfg.Prompt,
		Args: cfg.Args, Setup: cfg.Setup, PythonPath: cfg.PythonPath, Timeout: cfg.Timeout, OutDir: j.out,
		WorktreeRoot: filepath.Join(tmp, "worktrees"), Env: e.Environ(), Secrets: secrets, Progress: progressFor(e),
		Serve: cfg.Serve, Sandbox: j.sandbox, SandboxRW: cfg.SandboxRW, RunnerName: cfg.RunnerName, RedactNames: cfg.Redact,
	}
	plan := protocol.Plan{Runs: cfg.Runs, MaxRuns: cfg.MaxRuns, Confirm: cfg.Confirm, Options: cfg.Options}
	if cfg.Serve != nil {
		plan = protocol.ServePlan(cfg.Launches, cfg.MaxLaunches, cfg.Confirm, cfg.Options)
	}
	plan.Profile = cfg.Profile
	return spec, plan
}

// newCommenter makes the GitHub client when there is a PR to comment on
// and a token to do it with.
func (j *actionJob) newCommenter() error {
	if j.commenter != nil || j.tgt.PR == 0 || j.cfg.Token == "" {
		return nil
	}
	gh, err := ghcomment.NewGitHub(j.e.Getenv("GITHUB_API_URL"), j.cfg.Token, &http.Client{Timeout: time.Minute})
	if err != nil {
		return input.Wrap("GITHUB_API_URL", err)
	}
	retry := j.e.GitHubRetry
	if retry.Sleep == nil {
		retry = ghcomment.DefaultRetry()
	}
	j.commenter = &ghcomment.Commenter{GH: gh, Owner: j.tgt.Owner, Repo: j.tgt.Repo, Bot: j.cfg.CommentAuthor, Retry: retry,
		Warn: func(f string, a ...any) { j.gha.Warningf("diffperf: "+f, a...) }}
	return nil
}

// acceptance is what the accept label says of a report: the label its
// headline names (how to accept, or how to retry; "" without a pull
// request) and whether its regression is accepted.
type acceptance struct {
	label    string
	accepted bool
}

// acceptance reads the accept label for a report that found a regression
// or not: fresh from the API (a label added after the push counts), else
// from the event.
func (j *actionJob) acceptance(ctx context.Context, regression bool) acceptance {
	var a acceptance
	if j.tgt.PR != 0 {
		a.label = j.cfg.AcceptLabel
	}
	a.accepted = regression && j.hasAcceptLabel(ctx)
	return a
}

// hasAcceptLabel reports whether the PR carries the accept label.
func (j *actionJob) hasAcceptLabel(ctx context.Context) bool {
	if j.tgt.PR == 0 {
		return false
	}
	labels := j.tgt.Labels
	if j.commenter != nil {
		if fresh, err := j.commenter.Labels(ctx, j.tgt.PR); err == nil {
			labels = fresh
		} else {
			j.gha.Warningf("diffperf: could not read the labels of #%d, using the event's: %v", j.tgt.PR, err)
		}
	}
	return slices.Contains(labels, j.cfg.AcceptLabel)
}

// secrets are the values that nothing diffperf writes may contain.
func (j *actionJob) secrets() []string {
	if j.cfg.Token != "" && !slices.Contains(j.tokens, j.cfg.Token) {
		return append(slices.Clone(j.tokens), j.cfg.Token)
	}
	return j.tokens
}

// redact replaces the token in text that is about to be written or
// published; the benchmark may have printed it (see bench.Redact).
func (j *actionJob) redact(s string) string { return bench.Redact(s, j.redactions()) }

// redactions are the secrets and the values of the environment's
// secret-like variables and of input redact (bench.SecretValues): what
// diffperf never writes or publishes, though the benchmark may see the
// latter.
func (j *actionJob) redactions() []string {
	var names []string
	if j.cfg != nil {
		names = j.cfg.Redact
	}
	return append(j.secrets(), bench.SecretValues(j.e.Environ(), names)...)
}

// confine resolves input sandbox once, for every benchmark of the job.
func (j *actionJob) confine(ctx context.Context) error {
	if j.sandbox != nil {
		return nil
	}
	sb, err := sandbox.Resolve(ctx, "sandbox", j.cfg.Sandbox, j.e.Getenv("PATH"))
	if err != nil {
		return err
	}
	if line := sb.Line(); line != "" {
		j.gha.Warningf("diffperf: %s", line)
	}
	j.sandbox = sb
	return nil
}

// upsertComment upserts the PR comment, as the input comment says (always,
// on-change, never), with the body render gives; it sets the output
// comment-url and returns the comment's address. A 403 or 404 (a fork's token) is a warning; other failures
// are the error.
func (j *actionJob) upsertComment(ctx context.Context, v report.Verdict, render func(maxChars int) string) (string, error) {
	if j.commenter == nil || j.cfg.Comment == "never" {
		return "", nil
	}
	create := j.cfg.Comment == "always" || v != report.NoChange
	res, err := j.commenter.Upsert(ctx, j.tgt.PR, comment.MarkerLine(j.key), create, render)
	switch {
	case err != nil:
		return "", fmt.Errorf("PR comment: %w", err)
	case res.Warning != "":
		j.gha.Warningf("diffperf: %s", res.Warning)
	default:
		j.setOutput("comment-url", res.URL)
		fmt.Fprintf(j.e.Stderr, "PR comment %s: %s\n", res.Action, res.URL)
	}
	return res.URL, nil
}

// setOutput and addSummary skip what the runner did not ask for (outside
// Actions the files are not set, and go-githubactions would panic).
func (j *actionJob) setOutput(k, v string) {
	if j.e.Getenv("GITHUB_OUTPUT") != "" {
		j.gha.SetOutput(k, v)
	}
}

func (j *actionJob) addSummary(md string) {
	if j.e.Getenv("GITHUB_STEP_SUMMARY") != "" {
		j.gha.AddStepSummary(md)
	}
}
