package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestActPerfCommand runs the /perf path end to end with act (host mode):
// .github/workflows/perf-command.yml on an issue_comment event, against
// the fake GitHub on 127.0.0.1, must react 👀 and dispatch perf-dispatch.yml
// with the pinned head SHA and the comment's overrides (the fake refuses,
// as GitHub does, inputs the workflow does not declare); then
// perf-dispatch.yml, run with exactly the inputs that dispatch carried
// after the pull request moved on, must benchmark the pinned SHA and
// comment who asked, at which SHA, and that the PR moved on. It needs act:
// .ci/run installs it and sets DIFFPERF_ACT; elsewhere the test skips.
func TestActPerfCommand(t *testing.T) {
	act, work, bin, proj, base, head := actProject(t)

	// The fake GitHub, on loopback, stopping by itself.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	api := startFakeGitHub(t, ctx, bin, work)
	control := func(method, path string, v any) []byte {
		t.Helper()
		body, _ := json.Marshal(v)
		req, _ := http.NewRequest(method, api+path, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	// GitHub's side: a writer, the PR at head, the perf workflow with the
	// inputs the example declares, and the request.
	control("PUT", "/_fake/permissions/alice", "write")
	control("PUT", "/_fake/pulls/7", map[string]string{"head_sha": head, "base_sha": base, "head_repo": "mallory/perf"})
	control("PUT", "/_fake/workflows/perf-dispatch.yml", declaredInputs(t, filepath.Join(proj, ".github", "workflows", "perf-dispatch.yml")))
	const request = `/perf runs=4 min-delta-ms=20 args="--num-inference-steps 28" prompt="a $(touch pwned) raccoon"`
	var added struct{ ID int64 }
	if err := json.Unmarshal(control("POST", "/_fake/comments", map[string]any{"issue": 7, "user": "alice", "body": request + "\nplease"}), &added); err != nil {
		t.Fatal(err)
	}
	repository := map[string]any{"full_name": "octo/perf", "name": "perf", "owner": map[string]any{"login": "octo"}, "default_branch": "main"}
	event := filepath.Join(work, "comment.json")
	b, _ := json.Marshal(map[string]any{"action": "created",
		"issue": map[string]any{"number": 7, "title": "Make denoising faster", "pull_request": map[string]any{"url": api + "/repos/octo/perf/pulls/7"}},
		"comment": map[string]any{"id": added.ID, "body": request + "\nplease", "user": map[string]any{"login": "alice", "type": "User"},
			"html_url": fmt.Sprintf("%s/octo/perf/pull/7#issuecomment-%d", api, added.ID)},
		"repository": repository, "sender": map[string]any{"login": "alice", "type": "User"}})
	write(t, event, string(b))
	stub, _ := filepath.Abs("testdata/act/stub-action")
	runAct := func(name, eventName, eventFile, workflow string) actResult {
		t.Helper()
		cmd := exec.CommandContext(ctx, act, eventName, "-e", eventFile, "-W", workflow,
			"-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted", "-P", "gpu=-self-hosted", "-P", "h100=-self-hosted",
			"--var", "DIFFPERF_ENABLED=true", "-s", "GITHUB_TOKEN=fake-token",
			"--env", "GITHUB_API_URL="+api, "--env", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"--local-repository", "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5="+stub,
			"--local-repository", "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02="+stub,
			"--action-cache-path", filepath.Join(work, "act-cache-"+name), "--json")
		cmd.Dir = proj
		cmd.Env = withoutVars(os.Environ(), "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run() // act's exit status is not the job's: read the JSON log
		if dir := os.Getenv("DIFFPERF_ACT_LOGS"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".log"), out.Bytes(), 0o644); err == nil {
				t.Logf("act log of %s: %s", name, filepath.Join(dir, name+".log"))
			}
		}
		res := parseAct(out.Bytes())
		if res.jobResult == "" {
			t.Fatalf("%s: no job result in act's log; the job did not run:\n%s", name, tail(out.String(), 4000))
		}
		return res
	}
	state := func() perfState {
		t.Helper()
		resp, err := http.Get(api + "/_fake/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s perfState
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// 1. The comment: 👀, and a dispatch at the pinned head.
	r1 := runAct("perf-command", "issue_comment", event, ".github/workflows/perf-command.yml")
	s1 := state()
	if r1.jobResult != "success" || r1.outputs["dispatched"] != "true" || r1.outputs["head-sha"] != head {
		t.Fatalf("perf-command: job %s, outputs %v\n%s", r1.jobResult, r1.outputs, tail(r1.log, 3000))
	}
	if len(s1.Dispatches) != 1 {
		t.Fatalf("dispatches %+v", s1.Dispatches)
	}
	d := s1.Dispatches[0]
	want := map[string]string{"head-ref": head, "pr-number": "7", "request-comment": fmt.Sprint(added.ID), "runs": "4", "min-delta-ms": "20",
		"args": "--num-inference-steps 28", "prompt": "a $(touch pwned) raccoon"}
	if d.Workflow != "perf-dispatch.yml" || d.Ref != "main" || fmt.Sprint(d.Inputs) != fmt.Sprint(want) {
		t.Errorf("dispatch %+v, want perf-dispatch.yml on main with %v", d, want)
	}
	if len(s1.Reactions) != 1 || s1.Reactions[0].Content != "eyes" || s1.Reactions[0].CommentID != added.ID {
		t.Errorf("reactions %+v, want 👀 on %d", s1.Reactions, added.ID)
	}
	if len(s1.Comments) != 1 {
		t.Errorf("comments %+v: the request only, no reply", s1.Comments)
	}

	// 2. The PR moves on; the dispatched run measures the pinned SHA.
	moved := strings.Repeat("f", 40)
	control("PUT", "/_fake/pulls/7", map[string]string{"head_sha": moved, "base_sha": base, "head_repo": "mallory/perf"})
	dispatchEvent := filepath.Join(work, "dispatch.json")
	b, _ = json.Marshal(map[string]any{"ref": "refs/heads/main", "inputs": d.Inputs, "repository": repository, "sender": map[string]any{"login": "github-actions[bot]"}})
	write(t, dispatchEvent, string(b))
	r2 := runAct("perf-dispatch", "workflow_dispatch", dispatchEvent, ".github/workflows/perf-dispatch.yml")
	s2 := state()
	if r2.jobResult != "success" || r2.outputs["verdict"] != "regression" {
		t.Errorf("perf-dispatch: job %s, outputs %v (a regression reports, fail-on-regression is off)\n%s", r2.jobResult, r2.outputs, tail(r2.log, 3000))
	}
	var bot []string
	for _, c := range s2.Comments {
		if c.User == "github-actions[bot]" {
			bot = append(bot, c.Body)
		}
	}
	if len(bot) != 1 {
		t.Fatalf("bot comments %q", bot)
	}
	for _, w := range []string{
		fmt.Sprintf("Requested with `/perf` by @\u200balice in [a comment](%s/octo/perf/pull/7#issuecomment-%d); measured at `%s`.", api, added.ID, head[:12]),
		"The pull request has moved on since: its head is now `" + moved[:12] + "`.",
		"## ❌ diffperf: regression",
		"a &#36;(touch pwned) raccoon", // the prompt as text: $ escaped so that it is no math
	} {
		if !strings.Contains(bot[0], w) {
			t.Errorf("comment lacks %q:\n%s", w, tail(bot[0], 2000))
		}
	}
	if _, err := os.Stat(filepath.Join(proj, "pwned")); err == nil {
		t.Error("pwned exists: the prompt reached a shell")
	}
}

// declaredInputs reads a workflow's workflow_dispatch inputs, each mapped
// to whether it is required.
func declaredInputs(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On struct {
			WorkflowDispatch struct {
				Inputs map[string]struct {
					Required bool `yaml:"required"`
				} `yaml:"inputs"`
			} `yaml:"workflow_dispatch"`
		} `yaml:"on"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for k, v := range wf.On.WorkflowDispatch.Inputs {
		out[k] = v.Required
	}
	return out
}

type perfState struct {
	Comments []struct {
		ID   int64  `json:"id"`
		User string `json:"user"`
		Body string `json:"body"`
	} `json:"comments"`
	Reactions []struct {
		CommentID int64  `json:"comment_id"`
		User      string `json:"user"`
		Content   string `json:"content"`
	} `json:"reactions"`
	Dispatches []struct {
		Workflow string            `json:"workflow"`
		Ref      string            `json:"ref"`
		Inputs   map[string]string `json:"inputs"`
	} `json:"dispatches"`
}
