package command

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/sandbox"
)

// outTexts is every file of the Action's out folder, its subfolders
// included, by path.
func outTexts(t *testing.T, out string) map[string]string {
	t.Helper()
	texts := map[string]string{}
	err := filepath.Walk(out, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		texts[path] = string(b)
		return err
	})
	if err != nil || len(texts) < 3 {
		t.Fatalf("out folder %s: %v, %d files", out, err, len(texts))
	}
	return texts
}

// TestSecretLikeVariablesRedacted: a benchmark that prints HF_TOKEN (which
// the model download needs, so it reaches the benchmark) and a variable
// named in input redact: both appear as *** everywhere diffperf writes
// (comment, summary, stdout, stderr, every file of the out folder); a
// value shorter than 8 characters (MY_KEY=1) is left alone.
func TestSecretLikeVariablesRedacted(t *testing.T) {
	t.Parallel()
	const hf, team = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123", "acme-research-team"
	a := newActionRun(t, "say=HF_TOKEN="+hf+" WANDB_ENTITY="+team+" MY_KEY=1\nbehavior=fail\n")
	a.extra = append(a.extra, "HF_TOKEN="+hf, "WANDB_ENTITY="+team, "MY_KEY=1")
	a.inputs["redact"] = "WANDB_ENTITY"
	a.run()
	if a.code != ExitRuntime {
		t.Fatalf("exit %d, want 3; stderr:\n%s", a.code, a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 || !strings.Contains(bot[0].Body, "HF_TOKEN=*** WANDB_ENTITY=*** MY_KEY=1") {
		t.Fatalf("the comment does not show the redacted log tail: %+v", bot)
	}
	texts := outTexts(t, a.output("out-dir"))
	texts["comment"], texts["summary"], texts["stdout"], texts["stderr"] = bot[0].Body, a.summary, a.stdout, a.stderr
	for where, text := range texts {
		if strings.Contains(text, hf) || strings.Contains(text, team) {
			t.Errorf("a secret appears in %s", where)
		}
	}
}

// TestActionSandbox runs the Action under bubblewrap and without one: the
// same verdict; the out folder (output out-dir) lies outside RUNNER_TEMP;
// only sandbox none says so, in the report and the step summary; the
// runner's name stands where a host name would, and the host name is in
// no output.
func TestActionSandbox(t *testing.T) {
	t.Parallel()
	if _, err := sandbox.Resolve(context.Background(), "sandbox", sandbox.Bwrap, os.Getenv("PATH")); err != nil {
		t.Skipf("bubblewrap is needed for this test and does not work here: %v", err)
	}
	host, _ := os.Hostname()
	for _, mode := range []string{"bwrap", "none"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			a := newActionRun(t, slowWL)
			a.inputs["sandbox"], a.inputs["runner-name"] = mode, "h100-runner-3"
			a.run()
			if a.code != ExitRegression || a.output("verdict") != "regression" {
				t.Fatalf("exit %d, verdict %q; want 1 and regression; stderr:\n%s", a.code, a.output("verdict"), a.stderr)
			}
			out := a.output("out-dir")
			if out == "" || strings.HasPrefix(out, a.runnerTemp+string(os.PathSeparator)) {
				t.Errorf("out-dir %q: want a folder outside RUNNER_TEMP %s", out, a.runnerTemp)
			}
			report, err := os.ReadFile(filepath.Join(out, "report.md"))
			if err != nil {
				t.Fatal(err)
			}
			for where, text := range map[string]string{"report.md": string(report), "summary": a.summary} {
				if said := strings.Contains(text, "Sandbox: none"); said != (mode == "none") {
					t.Errorf("sandbox %s: %s says \"Sandbox: none\": %v", mode, where, said)
				}
				// The runner's name and CPUs, and nothing between them.
				if !regexp.MustCompile(`\nHost: h100-runner-3, \d+ CPUs\n`).MatchString(text) {
					t.Errorf("%s does not name the runner as Host: h100-runner-3, N CPUs", where)
				}
			}
			if len(host) >= 4 { // a short name would match anywhere
				for where, text := range map[string]string{"report.md": string(report), "summary": a.summary, "comment": a.bot()[0].Body} {
					if strings.Contains(text, "Host: "+host) {
						t.Errorf("%s publishes the host name %q", where, host)
					}
				}
			}
		})
	}
}

// TestRunSandboxFlag: `diffperf run --sandbox bwrap` and `--sandbox none`
// measure the same A/A as no change (the A/A a GPU machine repeats with a
// real sglang), only none says so, and a mode that is neither is exit 2
// naming the flag; --sandbox bwrap where bubblewrap cannot work is exit 2.
func TestRunSandboxFlag(t *testing.T) {
	t.Parallel()
	env := fakeEnviron()
	getenv := func(k string) string {
		v := ""
		for _, kv := range env {
			if val, ok := strings.CutPrefix(kv, k+"="); ok {
				v = val
			}
		}
		return v
	}
	repo := repoWith(t, "step_ms=5\nsteps=4\n", "step_ms=5\nsteps=4\n")
	run := func(args ...string) (int, string, string) {
		out := filepath.Join(t.TempDir(), "out")
		return runCLIEnv(t, getenv, env, append([]string{"run", "--base", "main~1", "--head", "main", "--model", "m", "--runs", "3",
			"--repo", repo, "--out", out, "--min-delta-ms", "5"}, args...)...)
	}
	t.Run("bad mode", func(t *testing.T) {
		t.Parallel()
		if code, _, stderr := run("--sandbox", "docker"); code != ExitInput || !strings.Contains(stderr, `--sandbox: "docker" is not auto, bwrap or none`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("bwrap where it is missing", func(t *testing.T) {
		t.Parallel()
		noBwrap := func(k string) string {
			if k == "PATH" {
				return t.TempDir()
			}
			return getenv(k)
		}
		code, _, stderr := runCLIEnv(t, noBwrap, env, "run", "--base", "main~1", "--head", "main", "--model", "m", "--repo", repo,
			"--out", filepath.Join(t.TempDir(), "out"), "--sandbox", "bwrap")
		if code != ExitInput || !strings.Contains(stderr, "--sandbox: bwrap: is not on the PATH") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	if _, err := sandbox.Resolve(context.Background(), "sandbox", sandbox.Bwrap, os.Getenv("PATH")); err != nil {
		t.Skipf("bubblewrap is needed for the rest of this test and does not work here: %v", err)
	}
	for _, mode := range []string{"bwrap", "none"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run("--sandbox", mode)
			if code != ExitOK || !strings.Contains(stdout, "no change") {
				t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if said := strings.Contains(stdout, "Sandbox: none"); said != (mode == "none") {
				t.Errorf("--sandbox %s: the report says \"Sandbox: none\": %v", mode, said)
			}
		})
	}
}
