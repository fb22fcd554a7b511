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

// TestActMatrixEndToEnd runs the example workflow
// .github/workflows/perf-matrix.yml with act (host mode): two matrix cells
// (flux on an "h100", wan on an "h200" runner) benchmark their case on a
// throwaway copy of this repository whose head commit slows the fake
// sglang's denoising step by 20 %, each uploads its results, and the merge
// job downloads them and runs the Action with mode merge against the fake
// GitHub: one comment with a row per case, and a failed merge job for the
// regression (the cells pass: they neither comment nor gate). A second
// run edits the same comment.
//
// act cannot clone remote actions here, so actions/upload-artifact and
// actions/download-artifact are stand-ins (testdata/act/upload-artifact,
// download-artifact) that move the files through a folder with the real
// actions' layout; they do not exercise act's artifact server
// (--artifact-server-path), which needs the real actions' JavaScript.
// With DIFFPERF_ACT_REAL_ARTIFACTS=1 (and network to clone them), the test
// runs the real actions against act's artifact server instead.
func TestActMatrixEndToEnd(t *testing.T) {
	act, work, bin, proj, base, head := actProject(t)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	api := startFakeGitHub(t, ctx, bin, work)
	event := filepath.Join(work, "event.json")
	write(t, event, prEvent(base, head))
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	real := os.Getenv("DIFFPERF_ACT_REAL_ARTIFACTS") == "1"

	runAct := func(name string) map[string]string {
		t.Helper()
		artifacts := filepath.Join(work, "artifacts-"+name)
		args := []string{"pull_request", "-e", event, "-W", ".github/workflows/perf-matrix.yml",
			"-P", "self-hosted=-self-hosted", "-P", "gpu=-self-hosted", "-P", "h100=-self-hosted", "-P", "h200=-self-hosted",
			"-P", "ubuntu-latest=-self-hosted",
			"--var", "DIFFPERF_ENABLED=true", "-s", "GITHUB_TOKEN=fake-token",
			"--env", "GITHUB_API_URL=" + api, "--env", "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			"--env", "DIFFPERF_ACT_ARTIFACTS=" + artifacts,
			"--local-repository", "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5=" + abs("testdata/act/stub-action"),
			// One job at a time: the cells would otherwise share this
			// machine's two cores while they measure.
			"--concurrent-jobs", "1",
			"--action-cache-path", filepath.Join(work, "act-cache-"+name), "--json"}
		if real {
			args = append(args, "--artifact-server-path", artifacts, "--artifact-server-addr", "127.0.0.1", "--artifact-server-port", "0")
		} else {
			args = append(args,
				"--local-repository", "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02="+abs("testdata/act/upload-artifact"),
				"--local-repository", "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093="+abs("testdata/act/download-artifact"))
		}
		cmd := exec.CommandContext(ctx, act, args...)
		cmd.Dir = proj
		cmd.Env = withoutVars(os.Environ(), "GITHUB_TOKEN", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run() // act's exit status is not the jobs': read the JSON log
		if dir := os.Getenv("DIFFPERF_ACT_LOGS"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, "matrix-"+name+".log"), out.Bytes(), 0o644); err == nil {
				t.Logf("act log of %s: %s", name, filepath.Join(dir, "matrix-"+name+".log"))
			}
		}
		jobs := jobResults(out.Bytes())
		if len(jobs) != 4 {
			t.Fatalf("%s: job results %v, want the start job, the two cells and the merge job:\n%s", name, jobs, tail(out.String(), 6000))
		}
		return jobs
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

	jobs := runAct("run1")
	for job, want := range map[string]string{"start": "success", "perf (flux)": "success", "perf (wan)": "success", "merge": "failure"} {
		if jobs[job] != want {
			t.Errorf("run 1: job %s: %s, want %s (all jobs: %v)", job, jobs[job], want, jobs)
		}
	}
	s1 := state()
	if len(s1.Comments) != 1 {
		t.Fatalf("run 1: %d comments, want one merged comment: %+v", len(s1.Comments), s1.Comments)
	}
	body := s1.Comments[0].Body
	for _, want := range []string{"<!-- diffperf:perf-matrix -->", "## ❌ diffperf: regression across 2 cases", "❌ 2 regressions",
		"\n| flux |", "\n| wan |", "<summary>flux: ❌ regression", "<summary>wan: ❌ regression"} {
		if !strings.Contains(body, want) {
			t.Errorf("run 1: the comment lacks %q:\n%.1500s", want, body)
		}
	}

	// One status for all cases: pending from the start job, failure from
	// the merge job; the cells post none.
	var states []string
	for _, st := range s1.Statuses {
		if st.SHA == head {
			states = append(states, st.Context+" "+st.State)
		}
	}
	if strings.Join(states, ", ") != "diffperf pending, diffperf failure" || len(s1.Statuses) != 2 {
		t.Errorf("run 1: statuses %+v, want diffperf pending then failure on the head", s1.Statuses)
	}

	runAct("run2")
	if s2 := state(); len(s2.Comments) != 1 || s2.Comments[0].ID != s1.Comments[0].ID {
		t.Errorf("run 2: comments %+v, want only comment %d, edited", s2.Comments, s1.Comments[0].ID)
	}
}

// jobResults reads each job's result from act's --json log, keyed by the
// job's ID and, for a matrix cell, its case ("perf (flux)").
func jobResults(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if v, ok := rec["jobResult"].(string); ok {
			job, _ := rec["jobID"].(string)
			if m, _ := rec["matrix"].(map[string]any); m["case"] != nil {
				job += fmt.Sprintf(" (%v)", m["case"])
			}
			out[job] = v
		}
	}
	return out
}
