// Package action reads what GitHub Actions hands the diffperf Action: its
// inputs, parsed once into a typed Config whose errors name the input, and
// the event that started the workflow, turned into what to measure and
// where to comment.
package action

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/ghcomment"
	"github.com/diffperf/diffperf/internal/ghcomment/comment"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/protocol"
	"github.com/diffperf/diffperf/internal/report"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// Config is every input of action.yml, validated.
type Config struct {
	ModelPath  string
	Prompt     string
	Args       []string
	Command    *bench.Template
	CommandRaw string
	Setup      string
	PythonPath string
	Runs       int
	MaxRuns    int
	Confirm    bool
	Timeout    time.Duration
	Options    report.Options
	// FailOnRegression makes an established regression exit 1.
	FailOnRegression bool
	AcceptLabel      string
	// Comment is "always", "on-change" or "never".
	Comment    string
	CommentKey string // "" means derived from the case
	// CommentAuthor is the login whose comments are diffperf's.
	CommentAuthor    string
	BaseRef, HeadRef string
	PRNumber         int
	WorkingDirectory string
	AllowForks       bool
	Token            string
	// Mode is what the Action does (see mode.go).
	Mode Mode
	// Serve is mode serve's server and requests, with the launches a side
	// (MaxLaunches 0: the default of protocol.ServePlan) and the raw
	// serve-command and request inputs; nil in other modes (serve.go).
	Serve                       *bench.Serve
	Launches, MaxLaunches       int
	ServeCommandRaw, RequestRaw string
	// PerfUsers, PerfWorkflow and RequestComment are for the /perf
	// command and the run it dispatches (see perfcmd.go).
	PerfUsers      []string
	PerfWorkflow   string
	RequestComment int64
	// Cases, Results and ExpectCases are inputs cases, results and
	// expect-cases (see cases.go).
	Cases       []Case
	Results     []string
	ExpectCases []string
	// Status posts diffperf's own commit status (input status) under
	// StatusContext (input status-context; see StatusContextFor).
	Status        bool
	StatusContext string
	// Sandbox, SandboxRW, RunnerName and Redact are inputs sandbox,
	// sandbox-rw (absolute paths), runner-name and redact (names of
	// variables whose values are redacted).
	Sandbox    sandbox.Mode
	SandboxRW  []string
	RunnerName string
	Redact     []string
	// HistoryBranch is mode history's data branch (input history-branch).
	HistoryBranch string
	// Profile is input profile: protocol.ProfileAuto, ProfileAlways or
	// ProfileOff.
	Profile string
	// Good, Bad and IssueNumber are mode bisect's inputs good, bad and
	// issue-number (bisect.go).
	Good, Bad   string
	IssueNumber int
	// DashboardURL is where mode history's issues link the dashboard
	// (input dashboard-url); empty: the repository's GitHub Pages site.
	// BisectWorkflow is the workflow file it dispatches to bisect a
	// change point that spans several commits (input bisect-workflow);
	// empty: none.
	DashboardURL   string
	BisectWorkflow string
}

// The defaults that the CLI's flags share with the inputs, written once:
// the prompt, the folder put first on PYTHONPATH, the runs per side and
// the limit of one run. The thresholds' are report.DefaultOptions.
const (
	DefaultPrompt     = "A curious raccoon"
	DefaultPythonPath = "python"
	DefaultRuns       = 5
	DefaultTimeout    = 30 * time.Minute
	// DefaultSandbox is input sandbox and flag --sandbox.
	DefaultSandbox = "auto"
)

// Inputs with their defaults, as action.yml declares them.
var Defaults = map[string]string{
	"model-path": "", "prompt": DefaultPrompt, "args": "", "command": bench.DefaultTemplate, "setup": "",
	"python-path": DefaultPythonPath, "runs": strconv.Itoa(DefaultRuns), "max-runs": "", "confirm": "true",
	"timeout": strings.TrimSuffix(DefaultTimeout.String(), "0s"), "threshold": report.FormatNum(report.DefaultOptions().ThresholdPct) + "%",
	"min-delta-ms": report.FormatNum(report.DefaultOptions().MinDeltaMs), "memory-threshold": report.FormatNum(report.DefaultOptions().MemoryThresholdPct) + "%",
	"alpha": report.FormatNum(report.DefaultOptions().Alpha), "fail-on-regression": "true",
	"accept-label": "perf-regression-accepted", "comment": "always", "comment-key": "", "comment-author": ghcomment.DefaultBot,
	"base-ref": "", "head-ref": "", "pr-number": "", "working-directory": ".", "allow-forks": "false", "github-token": "",
	"mode": "generate", "perf-users": "", "perf-workflow": "perf-dispatch.yml", "request-comment": "",
	"cases": "", "results": "", "expect-cases": "", "status": "true", "status-context": "diffperf",
	"sandbox": DefaultSandbox, "sandbox-rw": "", "runner-name": "", "redact": "", "history-branch": "diffperf-data",
	"profile": "auto",
	"good":    "", "bad": "", "issue-number": "",
	"dashboard-url": "", "bisect-workflow": "perf-bisect.yml",
}

// ParseInputs reads every input through get, which says whether the input
// is set at all, and applies the defaults to those that are unset or empty.
// python-path is the exception: set and empty means "none".
func ParseInputs(get func(name string) (string, bool)) (*Config, error) {
	in := func(name string) string {
		if v, _ := get(name); v != "" {
			return v
		}
		return Defaults[name]
	}
	c := &Config{
		ModelPath: in("model-path"), Prompt: in("prompt"), Setup: in("setup"), PythonPath: in("python-path"),
		AcceptLabel: in("accept-label"), Comment: in("comment"), CommentKey: in("comment-key"), CommentAuthor: in("comment-author"),
		BaseRef: in("base-ref"), HeadRef: in("head-ref"), WorkingDirectory: in("working-directory"), Token: in("github-token"),
		CommandRaw: in("command"),
	}
	if v, set := get("python-path"); set && v == "" {
		c.PythonPath = ""
	}
	var err error
	if c.Mode, err = ParseMode(in("mode")); err != nil {
		return nil, err
	}
	if c.Mode == ModeStart && strings.TrimSpace(in("comment-key")) == "" {
		// The merge job's key derives from its own job name, which the
		// start job does not know: both must name the same key.
		return nil, input.Errorf("comment-key", "required in mode start: the merge job's comment-key, so that both jobs mark the same comment")
	}
	if c.Command, err = bench.ParseTemplate(c.CommandRaw); err != nil {
		return nil, err // an *input.Error named "command"
	}
	if err := parseServe(in, c); err != nil {
		return nil, err
	}
	if c.Mode.measures() && strings.Contains(c.modelCommand(), "{model}") && c.ModelPath == "" && !casesOwnModel(in) {
		return nil, input.Errorf("model-path", "required, since the command uses {model}")
	}
	if c.Args, err = bench.SplitWords(in("args")); err != nil {
		return nil, input.Wrap("args", err)
	}
	if c.Runs, err = count(in("runs")); err != nil {
		return nil, input.Wrap("runs", err)
	}
	c.MaxRuns = c.Runs
	if v := in("max-runs"); v != "" {
		if c.MaxRuns, err = count(v); err != nil {
			return nil, input.Wrap("max-runs", err)
		}
		if c.MaxRuns < c.Runs {
			return nil, input.Errorf("max-runs", "%d is less than runs (%d)", c.MaxRuns, c.Runs)
		}
	}
	if c.Timeout, err = time.ParseDuration(in("timeout")); err != nil || c.Timeout <= 0 {
		return nil, input.Errorf("timeout", "%q is not a positive duration such as 30m or 1h30m", in("timeout"))
	}
	for _, p := range []struct {
		name string
		dst  *float64
		pct  bool
	}{{"threshold", &c.Options.ThresholdPct, true}, {"min-delta-ms", &c.Options.MinDeltaMs, false},
		{"memory-threshold", &c.Options.MemoryThresholdPct, true}, {"alpha", &c.Options.Alpha, false}} {
		if *p.dst, err = number(in(p.name), p.pct); err != nil {
			return nil, input.Wrap(p.name, err)
		}
	}
	if err := c.Options.Validate(); err != nil {
		return nil, err // an *input.Error named for the input
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"confirm", &c.Confirm}, {"fail-on-regression", &c.FailOnRegression}, {"allow-forks", &c.AllowForks}, {"status", &c.Status}} {
		if *b.dst, err = boolean(in(b.name)); err != nil {
			return nil, input.Wrap(b.name, err)
		}
	}
	if !c.Status && c.Mode == ModeGate {
		// The gate exists to post the status; without it, it would edit
		// headlines that no status backs.
		return nil, input.Errorf("status", "false leaves mode gate nothing to do: it posts diffperf's commit status (remove perf-gate.yml, or the input)")
	}
	switch c.Comment {
	case "always", "on-change", "never":
	default:
		return nil, input.Errorf("comment", "%q is not always, on-change or never", c.Comment)
	}
	if c.StatusContext = strings.TrimSpace(in("status-context")); c.StatusContext == "" || strings.ContainsAny(c.StatusContext, "\n\r") {
		return nil, input.Errorf("status-context", "%q is not a status context: one line, not empty", in("status-context"))
	}
	if v := in("pr-number"); v != "" {
		if c.PRNumber, err = count(v); err != nil {
			return nil, input.Wrap("pr-number", err)
		}
	}
	if err := c.parsePerfInputs(in); err != nil {
		return nil, err
	}
	if err := c.parseBisect(in); err != nil {
		return nil, err
	}
	if err := c.parseScale(in); err != nil {
		return nil, err
	}
	if c.Sandbox, err = sandbox.ParseMode("sandbox", in("sandbox")); err != nil {
		return nil, err
	}
	if c.SandboxRW, err = sandbox.ParseList("sandbox-rw", in("sandbox-rw")); err != nil {
		return nil, err
	}
	c.RunnerName = in("runner-name")
	if strings.ContainsAny(c.RunnerName, "\n\r") {
		return nil, input.Errorf("runner-name", "is more than one line")
	}
	if c.HistoryBranch, err = parseHistoryBranch(in("history-branch")); err != nil {
		return nil, err
	}
	if c.Profile, err = protocol.ParseProfile("profile", in("profile")); err != nil {
		return nil, err
	}
	if err := parseHistoryLinks(get, in, c); err != nil {
		return nil, err
	}
	for _, f := range strings.FieldsFunc(in("redact"), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		c.Redact = append(c.Redact, strings.TrimSpace(f))
	}
	return c, nil
}

func count(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive whole number", s)
	}
	return n, nil
}

func number(s string, pct bool) (float64, error) {
	if pct {
		return report.ParsePercent(s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v != v || v < 0 {
		return 0, fmt.Errorf("%q is not a non-negative number", s)
	}
	return v, nil
}

// boolean accepts what actions/toolkit's getBooleanInput does: the YAML 1.2
// core schema's true and false spellings.
func boolean(s string) (bool, error) {
	switch s {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// Target is what the event asks to measure and where the result goes.
type Target struct {
	Event       string
	Owner, Repo string
	// PR is the pull request to comment on; 0 for none.
	PR int
	// Base and Head are what to check out: SHAs from a pull_request event,
	// refs from workflow_dispatch.
	Base, Head string
	// Fork is true when the head lives in another repository.
	Fork     bool
	HeadRepo string
	// Labels are the pull request's labels in the payload (the API is asked
	// again before they decide anything).
	Labels []string
	// Skip, when set, says why this event needs no benchmark.
	Skip string
	// Action and Label are the pull_request activity and, for labeled
	// and unlabeled, the label; Sender is who caused the event.
	Action, Label, Sender string
}

// pullRequestActions are the pull_request activities that change what is
// measured or whether it gates.
var pullRequestActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true}

// LabelSkip is the notice of a labeled or unlabeled event that reaches a
// measuring job: labels are mode gate's.
const LabelSkip = "pull_request %q is not measured: the accept label is handled by mode gate (.github/workflows/perf-gate.yml), which re-decides the status without a GPU; remove labeled and unlabeled from this workflow's triggers"

// ParseEvent reads the payload of event (GITHUB_EVENT_NAME) for repository
// (GITHUB_REPOSITORY, owner/name).
// https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows
func ParseEvent(event, repository string, payload []byte, c *Config) (*Target, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return nil, input.Errorf("GITHUB_REPOSITORY", "%q is not owner/name", repository)
	}
	t := &Target{Event: event, Owner: owner, Repo: repo}
	switch event {
	case "pull_request":
		var ev github.PullRequestEvent
		if err := json.Unmarshal(payload, &ev); err != nil || ev.PullRequest == nil {
			return nil, input.Errorf("event", "the pull_request payload is unreadable: %w", err)
		}
		pr := ev.PullRequest
		switch a := ev.GetAction(); {
		case a == "labeled" || a == "unlabeled":
			t.Skip = fmt.Sprintf(LabelSkip, a)
			return t, nil
		case !pullRequestActions[a]:
			t.Skip = fmt.Sprintf("pull_request %q changes nothing to measure (diffperf runs on opened, synchronize and reopened)", a)
			return t, nil
		}
		t.Action, t.Label = ev.GetAction(), ev.GetLabel().GetName()
		t.PR = pr.GetNumber()
		if t.PR == 0 {
			t.PR = ev.GetNumber()
		}
		t.Base, t.Head = pr.GetBase().GetSHA(), pr.GetHead().GetSHA()
		if t.Base == "" || t.Head == "" {
			return nil, input.Errorf("event", "the pull_request payload has no base or head SHA")
		}
		t.HeadRepo = pr.GetHead().GetRepo().GetFullName()
		t.Fork = pr.GetHead().GetRepo() == nil || !strings.EqualFold(t.HeadRepo, pr.GetBase().GetRepo().GetFullName())
		for _, l := range pr.Labels {
			t.Labels = append(t.Labels, l.GetName())
		}
		// Inputs given explicitly (a re-run of an older commit) win.
		if c.BaseRef != "" {
			t.Base = c.BaseRef
		}
		if c.HeadRef != "" {
			t.Head = c.HeadRef
		}
		if c.PRNumber != 0 {
			t.PR = c.PRNumber
		}
	case "workflow_dispatch":
		var ev github.WorkflowDispatchEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, input.Errorf("event", "the workflow_dispatch payload is unreadable: %w", err)
		}
		t.Head = c.HeadRef
		if t.Head == "" {
			t.Head = ev.GetRef()
		}
		t.Base = c.BaseRef
		if t.Base == "" {
			t.Base = ev.GetRepo().GetDefaultBranch()
		}
		if t.Base == "" || t.Head == "" {
			return nil, input.Errorf("base-ref", "workflow_dispatch needs base-ref and head-ref (the payload names no default branch or ref)")
		}
		t.PR = c.PRNumber
	case "pull_request_target":
		return nil, input.Errorf("event", "pull_request_target is refused: it runs with a write token, and benchmarking runs the pull request's code; use pull_request (see docs/security.md, \"Forks\"); only mode gate, which runs no code of the pull request, takes it")
	default:
		return nil, input.Errorf("event", "%q is not an event diffperf handles: use pull_request or workflow_dispatch (issue_comment with mode: command)", event)
	}
	return t, nil
}

// ForkRefusal explains why a fork's pull request is not benchmarked.
const ForkRefusal = "this pull request comes from a fork (%s), and benchmarking runs its code on this self-hosted runner. " +
	"diffperf refuses that unless the input allow-forks is true. Set it only for a runner that is isolated (ephemeral, no secrets, " +
	"no network to internal services), and gate the job on a maintainer's label or an environment with required reviewers; see docs/security.md, \"Forks\""

// CaseKey derives the comment key from the case, so that a matrix over
// models, GPUs or arguments keeps one comment per cell. The key is a
// readable prefix (the model and the GPU when known, sanitised for the
// marker) and a hash of the whole case as given: model path, GPU, prompt,
// command and arguments, each length-prefixed. The sanitising maps
// "org/m v1" and "org/m-v1" to the same prefix, and a separator could
// appear inside a field; neither reaches the hash, which alone tells cases
// apart. The prefix is only for a reader.
func CaseKey(c *Config, gpu string) string {
	h := sha256.New()
	// A sequence of length-prefixed byte strings decodes one way only, so
	// no shift of bytes between fields (or into another argument) keeps
	// the hash (the arguments are counted, so none can pass for a field of
	// mode serve). "v1" names this layout; mode serve adds its own fields
	// at the end, so the keys of generate cases do not depend on it.
	fields := append([]string{"diffperf-case-v1", c.ModelPath, gpu, c.Prompt, c.CommandRaw, strconv.Itoa(len(c.Args))}, c.Args...)
	fields = append(fields, c.serveFields()...)
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	sum := h.Sum(nil)
	parts := []string{}
	if c.ModelPath != "" {
		parts = append(parts, c.ModelPath)
	}
	if gpu != "" {
		parts = append(parts, gpu)
	}
	prefix := strings.Join(parts, "-")
	if r := []rune(prefix); len(r) > 80 {
		prefix = string(r[:80])
	}
	parts = []string{hex.EncodeToString(sum[:8])}
	if prefix != "" {
		parts = append([]string{prefix}, parts...)
	}
	return comment.SanitizeKey(strings.ReplaceAll(strings.Join(parts, "-"), " ", "-"))
}

// StatusContextFor is the commit status context of a job: input
// status-context, with " / <name>" for a single named entry of cases, so
// that a case measured alone never overwrites the status of all cases.
func StatusContextFor(c *Config) string {
	if len(c.Cases) == 1 && c.Cases[0].Name != "" {
		return c.StatusContext + " / " + c.Cases[0].Name
	}
	return c.StatusContext
}

// ParseGateEvent reads the pull_request_target (or pull_request) payload
// of mode gate: the pull request, its head as the event saw it, whether it
// is a fork's, the activity, the label and the sender.
func ParseGateEvent(event, repository string, payload []byte) (*Target, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" {
		return nil, input.Errorf("GITHUB_REPOSITORY", "%q is not owner/name", repository)
	}
	if event != "pull_request_target" && event != "pull_request" {
		return nil, input.Errorf("event", "mode gate runs on pull_request_target (labeled, unlabeled, opened, synchronize, reopened), not %q", event)
	}
	var ev github.PullRequestEvent
	if err := json.Unmarshal(payload, &ev); err != nil || ev.PullRequest == nil {
		return nil, input.Errorf("event", "the %s payload is unreadable: %w", event, err)
	}
	pr := ev.PullRequest
	t := &Target{Event: event, Owner: owner, Repo: repo, PR: pr.GetNumber(), Action: ev.GetAction(), Label: ev.GetLabel().GetName(),
		Sender: ev.GetSender().GetLogin(), Base: pr.GetBase().GetSHA(), Head: pr.GetHead().GetSHA()}
	if t.PR == 0 {
		t.PR = ev.GetNumber()
	}
	if t.PR == 0 || t.Head == "" {
		return nil, input.Errorf("event", "the %s payload names no pull request number or head SHA", event)
	}
	t.HeadRepo = pr.GetHead().GetRepo().GetFullName()
	t.Fork = pr.GetHead().GetRepo() == nil || !strings.EqualFold(t.HeadRepo, pr.GetBase().GetRepo().GetFullName())
	for _, l := range pr.Labels {
		t.Labels = append(t.Labels, l.GetName())
	}
	return t, nil
}
