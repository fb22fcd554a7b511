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
)

// TestActGate runs .github/workflows/perf-gate.yml end to end with act
// (host mode) against the fake GitHub: with a comment that records a
// regression at the head, the accept label added turns the status
// diffperf into success and removing it into failure, and a fork's
// pull request opened gets pending asking for /perf; nothing is measured
// (no sglang runs: the fake sglang is not on PATH). It needs act: .ci/run
// installs it and sets DIFFPERF_ACT; elsewhere the test skips.
func TestActGate(t *testing.T) {
	act, work, bin, proj, base, head := actProject(t)
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
	control("PUT", "/_fake/pulls/7", map[string]string{"head_sha": head, "base_sha": base})
	state := fmt.Sprintf(`<!-- diffperf-state: {"v":1,"base":%q,"head":%q,"verdict":"regression","context":"diffperf"} -->`, base, head)
	body := "<!-- diffperf:flux -->\n" + state + "\n## ❌ diffperf: regression\n\nTo accept it, add the label **perf-regression-accepted** to the pull request: the status then passes without measuring again.\n\n**E2E +20.0%**\n"
	control("POST", "/_fake/comments", map[string]any{"issue": 7, "user": "github-actions[bot]", "body": body})

	runGate := func(name, action, label, headRepo string) actResult {
		t.Helper()
		ev := map[string]any{"action": action, "number": 7, "sender": map[string]any{"login": "maint", "type": "User"},
			"repository": map[string]any{"full_name": "octo/perf", "name": "perf", "owner": map[string]any{"login": "octo"}, "default_branch": "main"},
			"pull_request": map[string]any{"number": 7, "labels": []any{},
				"base": map[string]any{"sha": base, "ref": "main", "repo": map[string]any{"full_name": "octo/perf"}},
				"head": map[string]any{"sha": head, "ref": "feature", "repo": map[string]any{"full_name": headRepo}}}}
		if label != "" {
			ev["label"] = map[string]any{"name": label}
		}
		file := filepath.Join(work, name+".json")
		b, _ := json.Marshal(ev)
		write(t, file, string(b))
		stub, _ := filepath.Abs("testdata/act/stub-action")
		cmd := exec.CommandContext(ctx, act, "pull_request_target", "-e", file, "-W", ".github/workflows/perf-gate.yml",
			"-P", "ubuntu-latest=-self-hosted", "--var", "DIFFPERF_ENABLED=true", "-s", "GITHUB_TOKEN=fake-token",
			"--env", "GITHUB_API_URL="+api, "--local-repository", "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5="+stub,
			"--action-cache-path", filepath.Join(work, "act-cache-"+name), "--json")
		cmd.Dir = proj
		cmd.Stdin = nil
		cmd.Env = withoutVars(os.Environ(), "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run()
		if dir := os.Getenv("DIFFPERF_ACT_LOGS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, name+".log"), out.Bytes(), 0o644)
		}
		res := parseAct(out.Bytes())
		if res.jobResult != "success" {
			t.Fatalf("%s: job %q, want success:\n%s", name, res.jobResult, tail(out.String(), 4000))
		}
		return res
	}
	type status struct{ SHA, State, Context, Description string }
	latest := func(sha string) status {
		t.Helper()
		var s struct{ Statuses []status }
		if err := json.Unmarshal(control("GET", "/_fake/state", nil), &s); err != nil {
			t.Fatal(err)
		}
		for i := len(s.Statuses) - 1; i >= 0; i-- {
			if s.Statuses[i].SHA == sha && s.Statuses[i].Context == "diffperf" {
				return s.Statuses[i]
			}
		}
		return status{}
	}

	control("PUT", "/_fake/labels/7", []string{"perf-regression-accepted"})
	runGate("labeled", "labeled", "perf-regression-accepted", "octo/perf")
	if s := latest(head); s.State != "success" || !strings.Contains(s.Description, "accepted by label perf-regression-accepted (added by @maint)") {
		t.Errorf("labeled: status %+v", s)
	}
	control("PUT", "/_fake/labels/7", []string{})
	runGate("unlabeled", "unlabeled", "perf-regression-accepted", "octo/perf")
	if s := latest(head); s.State != "failure" || !strings.Contains(s.Description, "add label perf-regression-accepted to accept") {
		t.Errorf("unlabeled: status %+v", s)
	}
	runGate("fork", "opened", "", "mallory/perf")
	if s := latest(head); s.State != "pending" || !strings.Contains(s.Description, "waiting for a maintainer's /perf") {
		t.Errorf("fork opened: status %+v", s)
	}
}
