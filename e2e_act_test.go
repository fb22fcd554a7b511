package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestActEndToEnd runs the real example workflow .github/workflows/perf-pr.yml
// and action.yml with act (nektos/act, host mode) on a throwaway copy of
// this repository whose two commits differ by a planted slowdown of the fake
// sglang, against the fake GitHub API on 127.0.0.1. It needs act: .ci/run
// installs it and sets DIFFPERF_ACT; elsewhere the test skips.
func TestActEndToEnd(t *testing.T) {
	act, work, bin, proj, base, head := actProject(t)

	// The fake GitHub, on loopback, stopping by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	api := startFakeGitHub(t, ctx, bin, work)

	event := filepath.Join(work, "event.json")
	write(t, event, prEvent(base, head))
	stub, _ := filepath.Abs("testdata/act/stub-action")

	runAct := func(name string) actResult {
		t.Helper()
		cmd := exec.CommandContext(ctx, act, "pull_request", "-e", event, "-W", ".github/workflows/perf-pr.yml",
			"-P", "self-hosted=-self-hosted", "-P", "gpu=-self-hosted", "-P", "h100=-self-hosted",
			"--var", "DIFFPERF_ENABLED=true", "-s", "GITHUB_TOKEN=fake-token",
			"--env", "GITHUB_API_URL="+api, "--env", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"--local-repository", "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5="+stub,
			"--local-repository", "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02="+stub,
			"--action-cache-path", filepath.Join(work, "act-cache-"+name), "--json")
		cmd.Dir = proj
		cmd.Stdin = nil
		cmd.Env = withoutVars(os.Environ(), "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run() // act's exit status is not the job's: read the JSON log
		res := parseAct(out.Bytes())
		if dir := os.Getenv("DIFFPERF_ACT_LOGS"); dir != "" {
			// Kept for a person (or CI's artifacts) to read.
			if err := os.WriteFile(filepath.Join(dir, name+".log"), out.Bytes(), 0o644); err == nil {
				t.Logf("act log of %s: %s", name, filepath.Join(dir, name+".log"))
			}
		}
		if res.jobResult == "" {
			t.Fatalf("%s: no job result in act's log; the job did not run:\n%s", name, tail(out.String(), 4000))
		}
		return res
	}
	state := func() fakeState {
		t.Helper()
		resp, err := http.Get(api + "/_fake/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s fakeState
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// 1. The planted slowdown: one comment, verdict regression, failed job.
	r1 := runAct("run1")
	s1 := state()
	if r1.jobResult != "failure" {
		t.Errorf("run 1: job %s, want failure (a regression with the gate on)", r1.jobResult)
	}
	if len(s1.Comments) != 1 || s1.Comments[0].User != "github-actions[bot]" ||
		!strings.HasPrefix(s1.Comments[0].Body, "<!-- diffperf:black-forest-labs/FLUX.1-dev-") ||
		!strings.Contains(s1.Comments[0].Body, "## ❌ diffperf: regression") {
		t.Fatalf("run 1: comments %+v", s1.Comments)
	}
	for k, want := range map[string]string{"verdict": "regression"} {
		if r1.outputs[k] != want {
			t.Errorf("run 1: output %s = %q, want %q (outputs %v)", k, r1.outputs[k], want, r1.outputs)
		}
	}
	for _, k := range []string{"e2e-delta-pct", "p-value", "report-path", "result-path", "comment-url"} {
		if r1.outputs[k] == "" {
			t.Errorf("run 1: output %s missing (outputs %v)", k, r1.outputs)
		}
	}
	if !strings.Contains(r1.summary, "diffperf: regression") {
		t.Errorf("run 1: step summary lacks the report: %q", tail(r1.summary, 300))
	}
	// The one place the token may be is the ::add-mask:: command itself,
	// which the runner consumes (act shows it as ***).
	for _, line := range strings.Split(r1.log, "\n") {
		if strings.Contains(line, "fake-token") && !strings.Contains(line, `"command":"add-mask"`) {
			t.Errorf("run 1: the token appears in act's log: %.300s", line)
		}
	}

	// 2. Again: the same comment is edited, not a second one.
	runAct("run2")
	s2 := state()
	if len(s2.Comments) != 1 || s2.Comments[0].ID != s1.Comments[0].ID {
		t.Errorf("run 2: comments %+v, want only comment %d", s2.Comments, s1.Comments[0].ID)
	}

	// 3. A maintainer accepts the regression with the label: the job passes.
	req, _ := http.NewRequest(http.MethodPut, api+"/_fake/labels/7", strings.NewReader(`["perf-regression-accepted"]`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("set label: %v", err)
	}
	r3 := runAct("run3")
	s3 := state()
	if r3.jobResult != "success" {
		t.Errorf("run 3: job %s, want success with the accept label", r3.jobResult)
	}
	if len(s3.Comments) != 1 || !strings.Contains(s3.Comments[0].Body, "accepted with the label **perf-regression-accepted**") {
		t.Errorf("run 3: comments %+v", s3.Comments)
	}
}

type fakeState struct {
	Comments []struct {
		ID   int64  `json:"id"`
		User string `json:"user"`
		Body string `json:"body"`
	} `json:"comments"`
	Statuses []struct {
		SHA     string `json:"sha"`
		State   string `json:"state"`
		Context string `json:"context"`
	} `json:"statuses"`
}

type actResult struct {
	jobResult string
	outputs   map[string]string
	summary   string
	log       string
}

// actProject skips the test without act (.ci/run installs it and sets
// DIFFPERF_ACT). Otherwise it builds the fake GitHub and the fake sglang
// into work/bin and makes work/proj: this repository's tracked files (the
// action, its workflows) in a fresh repository with a base commit and a
// head commit whose simulated denoising step is slower (10 ms, then 12 ms
// a step; the workflows' --num-inference-steps set the step count).
func actProject(t *testing.T) (act, work, bin, proj, base, head string) {
	t.Helper()
	act = os.Getenv("DIFFPERF_ACT")
	if act == "" {
		t.Skip("DIFFPERF_ACT is not set (.ci/run sets it after installing act)")
	}
	work = t.TempDir()
	bin = filepath.Join(work, "bin")
	for pkg, name := range map[string]string{"./internal/ghcomment/fakegithub/cmd/fakegithub": "fakegithub", "./internal/fakesglang/cmd/sglang": "sglang"} {
		if b, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
	proj = filepath.Join(work, "proj")
	copyTracked(t, ".", proj)
	gitIn(t, proj, "init", "-q", "-b", "main")
	gitIn(t, proj, "remote", "add", "origin", "https://github.com/octo/perf.git")
	const wl = "step_ms=%d\ntext_ms=2\ndecode_ms=5\njitter=0.005\n"
	write(t, filepath.Join(proj, "fake_workload.txt"), fmt.Sprintf(wl, 10))
	gitIn(t, proj, "add", "-A")
	gitIn(t, proj, "commit", "-q", "-m", "base")
	base = strings.TrimSpace(gitIn(t, proj, "rev-parse", "HEAD"))
	write(t, filepath.Join(proj, "fake_workload.txt"), fmt.Sprintf(wl, 12))
	gitIn(t, proj, "commit", "-q", "-am", "head: slower denoising step")
	head = strings.TrimSpace(gitIn(t, proj, "rev-parse", "HEAD"))
	return act, work, bin, proj, base, head
}

// prEvent is a pull_request synchronize payload for PR 7 of octo/perf.
func prEvent(base, head string) string {
	return fmt.Sprintf(`{"action": "synchronize", "number": 7,
  "pull_request": {"number": 7, "title": "Make denoising faster",
    "base": {"sha": %q, "ref": "main", "repo": {"full_name": "octo/perf", "name": "perf", "owner": {"login": "octo"}}},
    "head": {"sha": %q, "ref": "feature", "repo": {"full_name": "octo/perf", "name": "perf", "owner": {"login": "octo"}}},
    "labels": []},
  "repository": {"full_name": "octo/perf", "name": "perf", "owner": {"login": "octo"}, "default_branch": "main"}}`, base, head)
}

// startFakeGitHub starts the fake GitHub of bin on loopback for the test's
// lifetime and returns its URL.
func startFakeGitHub(t *testing.T, ctx context.Context, bin, work string) string {
	t.Helper()
	addrFile := filepath.Join(work, "addr")
	fake := exec.CommandContext(ctx, filepath.Join(bin, "fakegithub"), "-addr", "127.0.0.1:0", "-repo", "octo/perf", "-pr", "7",
		"-token", "fake-token", "-addr-file", addrFile, "-lifetime", "15m")
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Process.Kill(); fake.Wait() })
	for i := 0; i < 200; i++ {
		if b, _ := os.ReadFile(addrFile); len(b) > 0 {
			return string(b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the fake GitHub did not start")
	return ""
}

// parseAct reads act's --json log: one JSON object a line.
func parseAct(b []byte) actResult {
	r := actResult{outputs: map[string]string{}, log: string(b)}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if v, ok := rec["jobResult"].(string); ok {
			r.jobResult = v
		}
		switch rec["command"] {
		case "set-output":
			name, _ := rec["name"].(string)
			arg, _ := rec["arg"].(string)
			r.outputs[name] = arg
		case "summary":
			if s, ok := rec["content"].(string); ok {
				r.summary += s
			} else if s, ok := rec["arg"].(string); ok {
				r.summary += s
			}
		}
	}
	return r
}

func copyTracked(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command("git", "-C", from, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			continue // deleted in the work tree
		}
		fi, _ := os.Stat(filepath.Join(from, f))
		dst := filepath.Join(to, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x.invalid", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@x.invalid", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func withoutVars(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
