package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflowStep is a step of an example workflow, as these tests read it.
type workflowStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	If   string            `yaml:"if"`
	With map[string]string `yaml:"with"`
}

type workflowFile struct {
	On struct {
		WorkflowDispatch struct {
			Inputs map[string]struct {
				Default string `yaml:"default"`
			} `yaml:"inputs"`
		} `yaml:"workflow_dispatch"`
	} `yaml:"on"`
	Jobs map[string]struct {
		Steps []workflowStep `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) workflowFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflowFile
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return wf
}

// usesAction is the job's step that uses the action.
func usesAction(t *testing.T, wf workflowFile, job string) workflowStep {
	t.Helper()
	for _, s := range wf.Jobs[job].Steps {
		if s.Uses == "./" {
			return s
		}
	}
	t.Fatalf("job %s does not use the action", job)
	return workflowStep{}
}

// TestPerfWorkflowsAgree: a bare /perf (perf-dispatch.yml with the
// defaults of its inputs) measures what the pull request's run
// (perf-pr.yml) measures, so it lands in the same comment, and it keeps
// its out folder as an artifact as the PR's run does.
func TestPerfWorkflowsAgree(t *testing.T) {
	t.Parallel()
	pr, dispatch := readWorkflow(t, "perf-pr.yml"), readWorkflow(t, "perf-dispatch.yml")
	prWith, dWith := usesAction(t, pr, "perf").With, usesAction(t, dispatch, "perf").With
	ref := regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`)
	// What decides the measurement and the comment key.
	for _, k := range []string{"model-path", "prompt", "args", "command", "runs", "max-runs", "timeout", "threshold", "min-delta-ms", "mode"} {
		got, ok := dWith[k]
		if m := ref.FindStringSubmatch(got); m != nil {
			in, declared := dispatch.On.WorkflowDispatch.Inputs[m[1]]
			if !declared {
				t.Errorf("perf-dispatch.yml: %s reads the undeclared input %s", k, m[1])
			}
			got, ok = in.Default, in.Default != ""
		}
		want, inPR := prWith[k]
		if !inPR && k == "prompt" {
			want, inPR = "A curious raccoon", true // the action's default
		}
		if ok != inPR || got != want {
			t.Errorf("%s: perf-dispatch.yml gives %q by default, perf-pr.yml %q", k, got, want)
		}
	}
	for _, wf := range []struct {
		name string
		f    workflowFile
	}{{"perf-pr.yml", pr}, {"perf-dispatch.yml", dispatch}} {
		found := false
		for _, s := range wf.f.Jobs["perf"].Steps {
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && s.With["path"] == "${{ steps.perf.outputs.out-dir }}" && strings.Contains(s.If, "always()") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s uploads no artifact of the out folder ${{ steps.perf.outputs.out-dir }} (if: always())", wf.name)
		}
	}
}

// TestExampleUsesCommented: every `uses: ./` of an example workflow says,
// in a comment next to it, what to write instead in another repository
// (./ is this repository's action.yml, which sglang's repository lacks).
func TestExampleUsesCommented(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(".github/workflows/perf-*.yml")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, line := range lines {
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- ")) != "uses: ./" {
				continue
			}
			if i == 0 || !strings.Contains(lines[i-1], "# In your repository: uses: diffperf/diffperf@<full commit SHA> # v1.x") {
				t.Errorf("%s:%d: uses: ./ without the comment that says what to write instead", f, i+1)
			}
		}
	}
}

// TestCopiedWorkflowLints does what an adopter does: copy perf-pr.yml into
// another repository (with its runner labels for actionlint), change the
// one line `uses: ./` as its comment says, and run actionlint there.
// actionlint comes from PATH (.ci/run installs it) or DIFFPERF_ACTIONLINT.
func TestCopiedWorkflowLints(t *testing.T) {
	t.Parallel()
	lint := os.Getenv("DIFFPERF_ACTIONLINT")
	if lint == "" {
		var err error
		if lint, err = exec.LookPath("actionlint"); err != nil {
			t.Skip("actionlint is not on PATH (bash .ci/run installs it)")
		}
	}
	b, err := os.ReadFile(".github/workflows/perf-pr.yml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if strings.Count(src, "uses: ./\n") != 1 {
		t.Fatalf("perf-pr.yml has %d lines `uses: ./`, want the one to change", strings.Count(src, "uses: ./\n"))
	}
	copied := strings.Replace(src, "uses: ./\n", "uses: diffperf/diffperf@0123456789abcdef0123456789abcdef01234567 # v1.0.0\n", 1)
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	labels, err := os.ReadFile(".github/actionlint.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"workflows/perf-pr.yml": copied, "actionlint.yaml": string(labels)} {
		if err := os.WriteFile(filepath.Join(repo, ".github", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(lint)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint refuses the copied perf-pr.yml: %v\n%s", err, out)
	}
	// actionlint checks that folder: without the runner labels it refuses
	// the same copy, so its approval above means something.
	if err := os.Remove(filepath.Join(repo, ".github", "actionlint.yaml")); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(lint)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), `label "gpu" is unknown`) {
		t.Errorf("actionlint without the runner labels: %v, want the unknown label refused:\n%s", err, out)
	}
}
