package action

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/report"
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
	}
	for _, tt := range tests {
		_, err := ParseInputs(getter(tt.in))
		var ie *InputError
		if !errors.As(err, &ie) || ie.Input != tt.wantInput || !strings.Contains(ie.Msg, tt.wantMsg) {
			t.Errorf("ParseInputs(%v) = %v, want input %s with %q", tt.in, err, tt.wantInput, tt.wantMsg)
		}
	}
	// A command without {model} needs no model.
	if _, err := ParseInputs(getter(map[string]string{"command": "./bench.sh {dump}"})); err != nil {
		t.Errorf("command without {model}: %v", err)
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
			want: &Target{Event: "pull_request", Owner: "octo", Repo: "perf", Skip: `pull_request "closed" changes nothing to measure (diffperf runs on opened, synchronize, reopened and labeled)`}},
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
				var ie *InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an InputError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseEvent (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseEvent("pull_request", "noslash", prEvent("opened", "null"), cfg(t)); err == nil {
		t.Error("GITHUB_REPOSITORY without a slash accepted")
	}
}

// events reads a real webhook payload from ../shared/github/events, or
// skips the test.
func events(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "github", "events", name))
	if err != nil {
		t.Skipf("no ../shared/github here (%v): contract test skipped", err)
	}
	return b
}

func TestRealPayloads(t *testing.T) {
	t.Parallel()
	const headSHA, baseSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
	for _, name := range []string{"pull_request.opened.payload.json", "pull_request.synchronize.payload.json", "pull_request.labeled.payload.json", "pull_request.opened.with-null-body.json"} {
		got, err := ParseEvent("pull_request", "Codertocat/Hello-World", events(t, name), cfg(t))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.PR != 2 || got.Base != baseSHA || got.Head != headSHA || got.Fork || got.Skip != "" {
			t.Errorf("%s: %+v", name, got)
		}
	}
	// The same payload from a fork is refused by the caller: Fork is set.
	var ev map[string]any
	if err := json.Unmarshal(events(t, "pull_request.opened.payload.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["pull_request"].(map[string]any)["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "mallory/Hello-World"
	forked, _ := json.Marshal(ev)
	got, err := ParseEvent("pull_request", "Codertocat/Hello-World", forked, cfg(t))
	if err != nil || !got.Fork || got.HeadRepo != "mallory/Hello-World" {
		t.Errorf("fork variant: %+v, %v", got, err)
	}
	wd, err := ParseEvent("workflow_dispatch", "octo-org/octo-repo", events(t, "workflow_dispatch.payload.json"), cfg(t))
	if err != nil || wd.Base != "master" || wd.Head != "refs/heads/master" || wd.PR != 0 {
		t.Errorf("workflow_dispatch: %+v, %v", wd, err)
	}
	for _, name := range []string{"issue_comment.created.payload.json", "workflow_run.completed.with-pull-requests.payload.json"} {
		event := strings.SplitN(name, ".", 2)[0]
		if _, err := ParseEvent(event, "Codertocat/Hello-World", events(t, name), cfg(t)); err == nil || !strings.Contains(err.Error(), "not an event diffperf handles") {
			t.Errorf("%s: err = %v", name, err)
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
		if report.MarkerLine(ka) == report.MarkerLine(kb) {
			t.Errorf("%s: both cases get the marker %q", p.name, report.MarkerLine(ka))
		}
	}
	// The readable prefix stays.
	if k := CaseKey(cfg(t, "model-path", "/models/模型"), gpu); !strings.HasPrefix(k, "/models/__-NVIDIA-H100-80GB-HBM3-") {
		t.Errorf("key %q lost its readable prefix", k)
	}
}
