package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/input"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-github/v62/github"

	"github.com/diffperf/diffperf/internal/ghcomment/comment"
)

func getter(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return strings.TrimSpace(v), ok
	}
}

func TestParseInputsDefaults(t *testing.T) {
	t.Parallel()
	c, err := ParseInputs(getter(map[string]string{"model-path": "black-forest-labs/FLUX.1-dev", "github-token": "ghs_x"}))
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Prompt, PythonPath, Comment, AcceptLabel, CommentAuthor, WD string
		Runs, MaxRuns                                               int
		Confirm, Fail, Forks                                        bool
		Timeout                                                     time.Duration
		Th, Min, Mem, Alpha                                         float64
	}{c.Prompt, c.PythonPath, c.Comment, c.AcceptLabel, c.CommentAuthor, c.WorkingDirectory, c.Runs, c.MaxRuns, c.Confirm, c.FailOnRegression, c.AllowForks,
		c.Timeout, c.Options.ThresholdPct, c.Options.MinDeltaMs, c.Options.MemoryThresholdPct, c.Options.Alpha}
	want := got
	want.Prompt, want.PythonPath, want.Comment, want.AcceptLabel, want.CommentAuthor, want.WD = "A curious raccoon", "python", "always", "perf-regression-accepted", "github-actions[bot]", "."
	want.Runs, want.MaxRuns, want.Confirm, want.Fail, want.Forks = 5, 5, true, true, false
	want.Timeout, want.Th, want.Min, want.Mem, want.Alpha = 30*time.Minute, 5, 50, 2, 0.05
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if c.Token != "ghs_x" || len(c.Args) != 0 {
		t.Errorf("token %q args %q", c.Token, c.Args)
	}
}

func TestParseInputsValues(t *testing.T) {
	t.Parallel()
	c, err := ParseInputs(getter(map[string]string{
		"model-path": "m", "args": `--height 512 --negative-prompt "ugly, blurry"`, "runs": "6", "max-runs": "10", "confirm": "False",
		"timeout": "1h30m", "threshold": "3%", "min-delta-ms": "20", "memory-threshold": "1.5%", "alpha": "0.01",
		"fail-on-regression": "FALSE", "comment": "on-change", "pr-number": "42", "allow-forks": "true", "python-path": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"--height", "512", "--negative-prompt", "ugly, blurry"}, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if c.Runs != 6 || c.MaxRuns != 10 || c.Confirm || c.Timeout != 90*time.Minute || c.Options.ThresholdPct != 3 ||
		c.Options.Alpha != 0.01 || c.FailOnRegression || c.Comment != "on-change" || c.PRNumber != 42 || !c.AllowForks || c.PythonPath != "" {
		t.Errorf("config = %+v", c)
	}
}

func TestParseInputsErrorsNameTheInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        map[string]string
		wantInput string
		wantMsg   string
	}{
		{map[string]string{}, "model-path", "required"},
		{map[string]string{"model-path": "m", "threshold": "5"}, "threshold", `"5" is not a percentage`},
		{map[string]string{"model-path": "m", "runs": "0"}, "runs", `"0" is not a positive whole number`},
		{map[string]string{"model-path": "m", "runs": "5", "max-runs": "3"}, "max-runs", "less than runs"},
		{map[string]string{"model-path": "m", "timeout": "30"}, "timeout", "not a positive duration"},
		{map[string]string{"model-path": "m", "alpha": "1"}, "alpha", "not in (0, 1)"},
		{map[string]string{"model-path": "m", "confirm": "yes"}, "confirm", `"yes" is not true or false`},
		{map[string]string{"model-path": "m", "comment": "sometimes"}, "comment", "not always, on-change or never"},
		{map[string]string{"model-path": "m", "command": "sglang {nope}"}, "command", "unknown placeholder {nope}"},
		{map[string]string{"model-path": "m", "args": `"open`}, "args", "unterminated"},
		{map[string]string{"model-path": "m", "pr-number": "#7"}, "pr-number", "not a positive whole number"},
		{map[string]string{"model-path": "m", "min-delta-ms": "-1"}, "min-delta-ms", "non-negative"},
		{map[string]string{"model-path": "m", "status": "on"}, "status", `"on" is not true or false`},
		{map[string]string{"model-path": "m", "status-context": "diffperf\nh100"}, "status-context", "not a status context"},
		{map[string]string{"model-path": "m", "sandbox": "docker"}, "sandbox", `"docker" is not auto, bwrap or none`},
		{map[string]string{"model-path": "m", "sandbox-rw": "/opt/venv, venv"}, "sandbox-rw", `"venv" is not an absolute path`},
		{map[string]string{"model-path": "m", "runner-name": "h100-1\n::error::x"}, "runner-name", "more than one line"},
		{map[string]string{"mode": "start"}, "comment-key", "required in mode start"},
		{map[string]string{"mode": "gate", "status": "false"}, "status", "nothing to do"},
		{map[string]string{"mode": "start", "comment-key": " "}, "comment-key", "required in mode start"},
	}
	for _, tt := range tests {
		_, err := ParseInputs(getter(tt.in))
		var ie *input.Error
		if !errors.As(err, &ie) || ie.Name != tt.wantInput || !strings.Contains(ie.Err.Error(), tt.wantMsg) {
			t.Errorf("ParseInputs(%v) = %v, want input %s with %q", tt.in, err, tt.wantInput, tt.wantMsg)
		}
	}
	// Modes that measure nothing need no model.
	for _, mode := range []string{"command", "gate", "start"} {
		if _, err := ParseInputs(getter(map[string]string{"mode": mode, "comment-key": "perf-matrix"})); err != nil {
			t.Errorf("mode %s without a model: %v", mode, err)
		}
	}
	// The sandbox inputs, parsed once.
	c, err := ParseInputs(getter(map[string]string{"model-path": "m", "sandbox": "bwrap", "sandbox-rw": "/opt/venv,\n/data/hf/", "runner-name": "h100-1", "redact": "WANDB_ENTITY, MY_ID"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox != "bwrap" || !slices.Equal(c.SandboxRW, []string{"/opt/venv", "/data/hf"}) || c.RunnerName != "h100-1" || !slices.Equal(c.Redact, []string{"WANDB_ENTITY", "MY_ID"}) {
		t.Errorf("sandbox %q, sandbox-rw %q, runner-name %q, redact %q", c.Sandbox, c.SandboxRW, c.RunnerName, c.Redact)
	}
	if c, _ := ParseInputs(getter(map[string]string{"model-path": "m"})); c.Sandbox != "auto" {
		t.Errorf("default sandbox %q, want auto", c.Sandbox)
	}
	// A command without {model} needs no model.
	if _, err := ParseInputs(getter(map[string]string{"command": "./bench.sh {dump}"})); err != nil {
		t.Errorf("command without {model}: %v", err)
	}
}

// TestStatusContext: the default context, the input, and " / <name>" for a
// single named case only.
func TestStatusContext(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		kv   []string
		want string
		on   bool
	}{
		{"default", nil, "diffperf", true},
		{"input", []string{"status-context", "diffperf / h100"}, "diffperf / h100", true},
		{"off", []string{"status", "false"}, "diffperf", false},
		{"one named case", []string{"cases", `[{"name": "flux"}]`}, "diffperf / flux", true},
		{"two cases", []string{"cases", `[{"name": "flux"}, {"name": "wan"}]`}, "diffperf", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfg(t, tt.kv...)
			if got := StatusContextFor(c); got != tt.want || c.Status != tt.on {
				t.Errorf("context %q status %v, want %q %v", got, c.Status, tt.want, tt.on)
			}
		})
	}
}

func cfg(t *testing.T, kv ...string) *Config {
	t.Helper()
	m := map[string]string{"model-path": "m"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	c, err := ParseInputs(getter(m))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const prPayload = `{"action": %q, "number": 7, "pull_request": {"number": 7,
  "base": {"sha": "aaaa", "repo": {"full_name": "octo/perf"}},
  "head": {"sha": "bbbb", "repo": %s},
  "labels": [{"name": "perf-regression-accepted"}]}}`

func prEvent(action, headRepo string) []byte {
	return []byte(strings.Replace(strings.Replace(prPayload, "%q", `"`+action+`"`, 1), "%s", headRepo, 1))
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, event string
		payload     []byte
		c           *Config
		want        *Target
		wantErr     string
	}{
		{name: "pull_request opened", event: "pull_request", payload: prEvent("opened", `{"full_name": "octo/perf"}`), c: cfg(t),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", PR: 7, Base: "aaaa", Head: "bbbb", HeadRepo: "octo/perf", Labels: []string{"perf-regression-accepted"}}},
		{name: "fork", event: "pull_request", payload: prEvent("synchronize", `{"full_name": "mallory/perf"}`), c: cfg(t),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", PR: 7, Base: "aaaa", Head: "bbbb", HeadRepo: "mallory/perf", Fork: true, Labels: []string{"perf-regression-accepted"}}},
		{name: "deleted fork", event: "pull_request", payload: prEvent("reopened", `null`), c: cfg(t),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", PR: 7, Base: "aaaa", Head: "bbbb", Fork: true, Labels: []string{"perf-regression-accepted"}}},
		{name: "closed is skipped", event: "pull_request", payload: prEvent("closed", `{"full_name": "octo/perf"}`), c: cfg(t),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", Skip: `pull_request "closed" changes nothing to measure (diffperf runs on opened, synchronize and reopened)`}},
		{name: "labeled is mode gate's", event: "pull_request", payload: prEvent("labeled", `{"full_name": "octo/perf"}`), c: cfg(t),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", Skip: fmt.Sprintf(LabelSkip, "labeled")}},
		{name: "unlabeled is mode gate's", event: "pull_request", payload: prEvent("unlabeled", `{"full_name": "octo/perf"}`), c: cfg(t),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", Skip: fmt.Sprintf(LabelSkip, "unlabeled")}},
		{name: "inputs override the payload", event: "pull_request", payload: prEvent("opened", `{"full_name": "octo/perf"}`), c: cfg(t, "base-ref", "v1.0", "head-ref", "cccc"),
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", PR: 7, Base: "v1.0", Head: "cccc", HeadRepo: "octo/perf", Labels: []string{"perf-regression-accepted"}}},
		{name: "dispatch defaults", event: "workflow_dispatch", payload: []byte(`{"ref": "refs/heads/feature", "repository": {"default_branch": "main"}}`), c: cfg(t),
			want: &Target{Event: "workflow_dispatch", Owner: "octo", Repo: "perf", Base: "main", Head: "refs/heads/feature"}},
		{name: "dispatch with refs and PR", event: "workflow_dispatch", payload: []byte(`{"ref": "refs/heads/x"}`), c: cfg(t, "base-ref", "v0.5", "head-ref", "v0.6", "pr-number", "12"),
			want: &Target{Event: "workflow_dispatch", Owner: "octo", Repo: "perf", PR: 12, Base: "v0.5", Head: "v0.6"}},
		{name: "push", event: "push", payload: []byte(`{}`), c: cfg(t), wantErr: `event: "push" is not an event diffperf handles`},
		{name: "pull_request_target", event: "pull_request_target", payload: prEvent("opened", `{"full_name": "octo/perf"}`), c: cfg(t), wantErr: "pull_request_target is refused"},
		{name: "broken payload", event: "pull_request", payload: []byte(`{"pull_request": 5}`), c: cfg(t), wantErr: "payload is unreadable"},
		{name: "no SHAs", event: "pull_request", payload: []byte(`{"action": "opened", "pull_request": {"number": 1}}`), c: cfg(t), wantErr: "no base or head SHA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEvent(tt.event, "octo/perf", tt.payload, tt.c)
			if tt.wantErr != "" {
				var ie *input.Error
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an *input.Error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreActivity); diff != "" {
				t.Errorf("ParseEvent (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseEvent("pull_request", "noslash", prEvent("opened", "null"), cfg(t)); err == nil {
		t.Error("GITHUB_REPOSITORY without a slash accepted")
	}
}

// payloadCase is a webhook payload file and what ParseEvent must make of it.
type payloadCase struct {
	file, repository string
	// want is the target; nil when ParseEvent must refuse the event with
	// an error containing wantErr.
	want    *Target
	wantErr string
	// onPR, for issue_comment, says the comment is on a pull request (the
	// /perf command answers those only).
	onPR bool
}

// Hand-written payloads in testdata/events (see its README.md).
const (
	fixtureBase  = "858db339954081796ef564cd9d4fc4c00a200f82"
	fixtureHead1 = "87b40e64e77df8f4107d765a07c24c4025cc4fff"
	fixtureHead2 = "8aa7b2feca07859f25fa931d576483588f3d1d20"
	fixtureFork  = "ba51352423eba3c70e2539c2d901effec57db4b1"
)

func fixturePR(head string, labels ...string) *Target {
	return &Target{Event: "pull_request", Owner: "octo-org", Repo: "diffusion-lab", PR: 42, Base: fixtureBase, Head: head, HeadRepo: "octo-org/diffusion-lab", Labels: labels}
}

var projectPayloads = []payloadCase{
	{file: "pull_request.opened.json", repository: "octo-org/diffusion-lab", want: fixturePR(fixtureHead1, "perf")},
	{file: "pull_request.synchronize.json", repository: "octo-org/diffusion-lab", want: fixturePR(fixtureHead2, "perf")},
	{file: "pull_request.labeled.json", repository: "octo-org/diffusion-lab", want: fixturePR(fixtureHead2, "perf", "perf-regression-accepted")},
	{file: "pull_request.reopened.json", repository: "octo-org/diffusion-lab", want: fixturePR(fixtureHead2, "perf")},
	{file: "pull_request.opened.fork.json", repository: "octo-org/diffusion-lab",
		want: &Target{Event: "pull_request", Owner: "octo-org", Repo: "diffusion-lab", PR: 43, Base: fixtureBase, Head: fixtureFork, HeadRepo: "mona/diffusion-lab", Fork: true}},
	{file: "workflow_dispatch.json", repository: "octo-org/diffusion-lab",
		want: &Target{Event: "workflow_dispatch", Owner: "octo-org", Repo: "diffusion-lab", Base: "main", Head: "refs/heads/vae-tiling"}},
	{file: "issue_comment.created.pr.json", repository: "octo-org/diffusion-lab", wantErr: "not an event diffperf handles", onPR: true},
}

// Real payloads in ../shared/github/events (octokit/webhooks examples).
const sharedBase, sharedHead = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"

func sharedPR() *Target {
	return &Target{Event: "pull_request", Owner: "Codertocat", Repo: "Hello-World", PR: 2, Base: sharedBase, Head: sharedHead, HeadRepo: "Codertocat/Hello-World", Labels: []string{"bug"}}
}

var sharedPayloads = []payloadCase{
	{file: "pull_request.opened.payload.json", repository: "Codertocat/Hello-World", want: sharedPR()},
	{file: "pull_request.synchronize.payload.json", repository: "Codertocat/Hello-World", want: sharedPR()},
	{file: "pull_request.labeled.payload.json", repository: "Codertocat/Hello-World", want: sharedPR()},
	{file: "pull_request.unlabeled.payload.json", repository: "Codertocat/Hello-World", want: sharedPR()},
	{file: "pull_request.opened.with-null-body.json", repository: "Codertocat/Hello-World", want: sharedPR()},
	{file: "workflow_dispatch.payload.json", repository: "octo-org/octo-repo",
		want: &Target{Event: "workflow_dispatch", Owner: "octo-org", Repo: "octo-repo", Base: "master", Head: "refs/heads/master"}},
	{file: "issue_comment.created.payload.json", repository: "Codertocat/Hello-World", wantErr: "not an event diffperf handles"},
	{file: "workflow_run.completed.with-pull-requests.payload.json", repository: "Codertocat/Hello-World", wantErr: "not an event diffperf handles"},
}

// payloadSet is a folder of webhook payloads and what they must give.
type payloadSet struct {
	name, dir string
	cases     []payloadCase
}

// payloadSets are the project's own payloads, always, and the real ones in
// ../shared/github/events (beside the project root) when that folder is
// there; a plain clone has none, and checks the project's only.
func payloadSets(t *testing.T) []payloadSet {
	t.Helper()
	sets := []payloadSet{{"project", filepath.Join("testdata", "events"), projectPayloads}}
	shared := filepath.Join("..", "..", "..", "shared", "github", "events")
	if _, err := os.Stat(shared); err != nil {
		t.Logf("no ../shared/github/events here: only the project's payloads (%v)", err)
		return sets
	}
	return append(sets, payloadSet{"shared", shared, sharedPayloads})
}

// TestRealPayloads reads webhook payloads as GitHub sends them (the Action
// gets the same object from GITHUB_EVENT_PATH).
func TestRealPayloads(t *testing.T) {
	t.Parallel()
	for _, set := range payloadSets(t) {
		for _, tt := range set.cases {
			event := strings.SplitN(tt.file, ".", 2)[0]
			t.Run(set.name+"/"+tt.file, func(t *testing.T) {
				t.Parallel()
				payload, err := os.ReadFile(filepath.Join(set.dir, tt.file))
				if err != nil {
					t.Fatal(err)
				}
				got, err := ParseEvent(event, tt.repository, payload, cfg(t))
				if strings.Contains(tt.file, "labeled") {
					// Labels are mode gate's: the measuring job skips them,
					// and mode gate reads the same payload.
					if err != nil || !strings.Contains(got.Skip, "perf-gate.yml") {
						t.Errorf("ParseEvent of a label event: %+v, %v; want skipped, naming perf-gate.yml", got, err)
					}
					got, err = ParseGateEvent(event, tt.repository, payload)
				}
				if tt.want == nil {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("err = %v, want %q", err, tt.wantErr)
					}
				} else if err != nil {
					t.Fatal(err)
				} else if diff := cmp.Diff(tt.want, got, ignoreActivity); diff != "" {
					t.Errorf("ParseEvent (-want +got):\n%s", diff)
				}
				switch {
				case event == "issue_comment":
					checkIssueComment(t, payload, tt.onPR)
				case event == "pull_request" && tt.want != nil && !tt.want.Fork:
					// The same payload from a fork is refused by the caller:
					// Fork is set.
					var ev map[string]any
					if err := json.Unmarshal(payload, &ev); err != nil {
						t.Fatal(err)
					}
					ev["pull_request"].(map[string]any)["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "mallory/" + tt.want.Repo
					forked, _ := json.Marshal(ev)
					parse := func() (*Target, error) { return ParseEvent(event, tt.repository, forked, cfg(t)) }
					if strings.Contains(tt.file, "labeled") {
						parse = func() (*Target, error) { return ParseGateEvent(event, tt.repository, forked) }
					}
					got, err := parse()
					if err != nil || !got.Fork || got.HeadRepo != "mallory/"+tt.want.Repo {
						t.Errorf("fork variant: %+v, %v", got, err)
					}
				}
			})
		}
	}
}

// checkIssueComment reads an issue_comment payload as the coming /perf
// command will: the comment, its author and the issue, and whether that
// issue is a pull request (issue.pull_request is set). An issue's payload
// gives the PR variant once issue.pull_request is added.
func checkIssueComment(t *testing.T, payload []byte, onPR bool) {
	t.Helper()
	variants := [][]byte{payload}
	if !onPR {
		var ev map[string]any
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		issue := ev["issue"].(map[string]any)
		issue["pull_request"] = map[string]any{"url": fmt.Sprintf("https://api.github.com/repos/%s/pulls/%v", ev["repository"].(map[string]any)["full_name"], issue["number"])}
		onPRPayload, _ := json.Marshal(ev)
		variants = append(variants, onPRPayload)
	}
	for i, b := range variants {
		var ev github.IssueCommentEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if want := onPR || i == 1; ev.GetIssue().IsPullRequest() != want {
			t.Errorf("variant %d: on a pull request = %v, want %v", i, !want, want)
		}
		if ev.GetAction() != "created" || ev.GetIssue().GetNumber() == 0 || ev.GetComment().GetID() == 0 || ev.GetComment().GetBody() == "" ||
			ev.GetComment().GetUser().GetLogin() == "" || ev.GetComment().GetAuthorAssociation() == "" || ev.GetRepo().GetFullName() == "" {
			t.Errorf("variant %d: action %q issue %d comment %d %q by %q (%s) in %q", i, ev.GetAction(), ev.GetIssue().GetNumber(), ev.GetComment().GetID(),
				ev.GetComment().GetBody(), ev.GetComment().GetUser().GetLogin(), ev.GetComment().GetAuthorAssociation(), ev.GetRepo().GetFullName())
		}
	}
}

func TestCaseKey(t *testing.T) {
	t.Parallel()
	a := CaseKey(cfg(t, "model-path", "black-forest-labs/FLUX.1-dev"), "NVIDIA H100 80GB HBM3")
	if !strings.HasPrefix(a, "black-forest-labs/FLUX.1-dev-NVIDIA-H100-80GB-HBM3-") {
		t.Errorf("key %q", a)
	}
	b := CaseKey(cfg(t, "model-path", "black-forest-labs/FLUX.1-dev", "args", "--height 512"), "NVIDIA H100 80GB HBM3")
	if a == b {
		t.Error("different args, same key")
	}
	if a != CaseKey(cfg(t, "model-path", "black-forest-labs/FLUX.1-dev"), "NVIDIA H100 80GB HBM3") {
		t.Error("the key is not stable")
	}
	if k := CaseKey(cfg(t, "model-path", "x --> <script>"), ""); strings.ContainsAny(k, "<> ") {
		t.Errorf("key %q can end its HTML comment", k)
	}
}

// TestCaseKeyDoesNotCollide: the key's hash covers the whole case as
// given, so cases whose readable prefixes sanitise alike, or whose fields
// shift bytes across a boundary, still get different comments.
func TestCaseKeyDoesNotCollide(t *testing.T) {
	t.Parallel()
	const gpu = "NVIDIA H100 80GB HBM3"
	pairs := []struct {
		name       string
		a, b       *Config
		gpuA, gpuB string
	}{
		{"space and hyphen", cfg(t, "model-path", "org/m v1"), cfg(t, "model-path", "org/m-v1"), gpu, gpu},
		{"@ and +", cfg(t, "model-path", "Qwen-Image@v1"), cfg(t, "model-path", "Qwen-Image+v1"), gpu, gpu},
		{"non-ASCII", cfg(t, "model-path", "/models/模型"), cfg(t, "model-path", "/models/图像"), gpu, gpu},
		{"prompt into args", cfg(t, "prompt", "x\x00--foo", "args", "bar"), cfg(t, "prompt", "x", "args", "--foo bar"), gpu, gpu},
		{"model into GPU", cfg(t, "model-path", "a b"), cfg(t, "model-path", "a"), "", "b"},
	}
	for _, p := range pairs {
		ka, kb := CaseKey(p.a, p.gpuA), CaseKey(p.b, p.gpuB)
		if ka == kb {
			t.Errorf("%s: both cases get the key %q", p.name, ka)
		}
		if comment.MarkerLine(ka) == comment.MarkerLine(kb) {
			t.Errorf("%s: both cases get the marker %q", p.name, comment.MarkerLine(ka))
		}
	}
	// The readable prefix stays.
	if k := CaseKey(cfg(t, "model-path", "/models/模型"), gpu); !strings.HasPrefix(k, "/models/__-NVIDIA-H100-80GB-HBM3-") {
		t.Errorf("key %q lost its readable prefix", k)
	}
}

// ignoreActivity leaves the pull_request activity and label to
// TestParseEventActivity.
var ignoreActivity = cmpopts.IgnoreFields(Target{}, "Action", "Label", "Sender")

func TestParseGateEvent(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"action": "labeled", "number": 7, "label": {"name": "perf-regression-accepted"}, "sender": {"login": "maint"},
		"pull_request": {"number": 7, "base": {"sha": "aaaa", "repo": {"full_name": "octo/perf"}},
		"head": {"sha": "bbbb", "repo": {"full_name": "mona/perf"}}, "labels": [{"name": "perf-regression-accepted"}]}}`)
	got, err := ParseGateEvent("pull_request_target", "octo/perf", payload)
	if err != nil {
		t.Fatal(err)
	}
	want := &Target{Event: "pull_request_target", Owner: "octo", Repo: "perf", PR: 7, Base: "aaaa", Head: "bbbb", Fork: true, HeadRepo: "mona/perf",
		Labels: []string{"perf-regression-accepted"}, Action: "labeled", Label: "perf-regression-accepted", Sender: "maint"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseGateEvent (-want +got):\n%s", diff)
	}
	for _, bad := range []struct{ event, payload, want string }{
		{"issue_comment", string(payload), "mode gate runs on pull_request_target"},
		{"pull_request_target", `{"action": "opened"}`, "unreadable"},
		{"pull_request_target", `{"action": "opened", "pull_request": {"number": 7}}`, "no pull request number or head SHA"},
	} {
		if _, err := ParseGateEvent(bad.event, "octo/perf", []byte(bad.payload)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %s: %v, want %q", bad.event, bad.payload, err, bad.want)
		}
	}
}
