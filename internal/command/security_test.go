package command

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// TestTokenRedactedEverywhere: a benchmark that prints the token while
// debugging and fails gets its log tail published, but the token is gone
// from every place diffperf writes: the comment, the step summary, stdout,
// report.md, result.json and the run's log files. (The runner's masking
// would hide it in the job log only.)
func TestTokenRedactedEverywhere(t *testing.T) {
	t.Parallel()
	const other = "ghp_another_token_in_GH_TOKEN_42"
	a := newActionRun(t, "say=debug: token is "+testToken+", and "+other+"\nbehavior=fail\n")
	a.extra = append(a.extra, "GH_TOKEN="+other)
	a.run()
	if a.code != ExitRuntime || a.output("verdict") != "failed" {
		t.Fatalf("exit %d, verdict %q; want 3 and failed; stderr:\n%s", a.code, a.output("verdict"), a.stderr)
	}
	bot := a.bot()
	if len(bot) != 1 || !strings.Contains(bot[0].Body, "debug: token is ***, and ***") {
		t.Fatalf("the comment does not show the redacted log tail: %+v", bot)
	}
	texts := map[string]string{"comment": bot[0].Body, "summary": a.summary, "stderr": a.stderr,
		"stdout": strings.Replace(strings.Replace(a.stdout, "::add-mask::"+testToken, "", 1), "::add-mask::"+other, "", 1)}
	out := filepath.Dir(a.output("result-path"))
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(files) < 3 {
		t.Fatalf("out folder %s holds %v", out, files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			continue // a side's folder: its dumps moved out once read
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(f)] = string(b)
	}
	for where, text := range texts {
		if strings.Contains(text, testToken) || strings.Contains(text, other) {
			t.Errorf("a token appears in %s", where)
		}
	}
}

// TestWriteFailureKeepsTheVerdict: when result.json cannot be written (as
// on a full disk; here the benchmark put a folder in its place), the step
// summary, the outputs and the comment still carry the verdict, the exit
// status is 3, and no partial file is left.
func TestWriteFailureKeepsTheVerdict(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, strings.Replace(slowWL, "\n", "\nbehavior=block-out\n", 1))
	a.inputs["confirm"] = "false"
	a.run()
	if a.code != ExitRuntime || !strings.Contains(a.stderr, "result.json") {
		t.Errorf("exit %d, want 3 naming result.json; stderr:\n%s", a.code, a.stderr)
	}
	if v := a.output("verdict"); v != "regression" {
		t.Errorf("verdict output %q, want regression from memory", v)
	}
	if !strings.Contains(a.summary, "diffperf: regression") {
		t.Errorf("summary lacks the verdict:\n%.300s", a.summary)
	}
	if bot := a.bot(); len(bot) != 1 || !strings.Contains(bot[0].Body, "diffperf: regression") {
		t.Errorf("comment: %+v, want the regression", bot)
	}
	temps, _ := filepath.Glob(filepath.Join(a.runnerTemp, "diffperf", "*", ".*.tmp-*"))
	if len(temps) > 0 {
		t.Errorf("temporary files left: %v", temps)
	}
}

// TestSummaryIsBounded: GitHub keeps at most 1 MiB of a step's summary; a
// hostile dump with 30,000 stages would make a report of megabytes.
func TestSummaryIsBounded(t *testing.T) {
	t.Parallel()
	a := newActionRun(t, "behavior=many-stages\n")
	a.inputs["runs"], a.inputs["comment"] = "1", "never"
	a.run()
	if a.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", a.code, a.stderr)
	}
	if n := len(a.summary); n > maxSummaryBytes || n < 1000 {
		t.Errorf("summary of %d bytes, want at most %d", n, maxSummaryBytes)
	}
	if !utf8.ValidString(a.summary) || !strings.Contains(a.summary, "Left out to stay within") {
		t.Errorf("summary is cut without a note: %.200q", a.summary[len(a.summary)-200:])
	}
	if b, err := os.ReadFile(a.output("report-path")); err != nil || len(b) <= maxSummaryBytes {
		t.Errorf("report.md: %d bytes, %v; want the whole report", len(b), err)
	}
}

// TestGPUReadForTheKeyGetsNoToken: nvidia-smi, read before the
// measurement to name the comment key, runs with the filtered environment.
func TestGPUReadForTheKeyGetsNoToken(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	envFile := filepath.Join(bin, "env.txt")
	script := "#!/bin/sh\nenv >> " + envFile + "\nexit 9\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a := newActionRun(t, baseWL)
	a.inputs["runs"], a.inputs["comment"] = "1", "never"
	a.extra = append(a.extra, "PATH="+bin+string(os.PathListSeparator)+fakeDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	a.run()
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("nvidia-smi did not run: %v; stderr:\n%s", err, a.stderr)
	}
	if strings.Contains(string(b), testToken) || strings.Contains(string(b), "INPUT_") {
		t.Errorf("nvidia-smi saw the token or the inputs:\n%s", b)
	}
}

// TestTokenHiddenFromTheBenchmark runs the real binary as the Action does
// (token in its environment) with a benchmark, a separate process of the
// same user, that reads /proc/<parent>/environ: diffperf is non-dumpable,
// so the read fails. Root reads any process's environment whatever the
// flag, so when the test runs as root it runs diffperf as nobody.
func TestTokenHiddenFromTheBenchmark(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	parentEnv := filepath.Join(root, "parent-env.txt")
	repo := repoWith(t, baseWL, baseWL+"parent_env_file="+parentEnv+"\n")
	event := filepath.Join(root, "event.json")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(event, `{"ref": "refs/heads/main", "repository": {"default_branch": "main"}}`)
	runnerTemp := filepath.Join(root, "runner-temp")
	home := filepath.Join(root, "home")
	for _, d := range []string{runnerTemp, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(diffperfBin, "action")
	cmd.Env = append(fakeEnviron(), "GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=workflow_dispatch", "GITHUB_EVENT_PATH="+event,
		"GITHUB_REPOSITORY=octo/perf", "GITHUB_WORKSPACE="+repo, "RUNNER_TEMP="+runnerTemp, "HOME="+home,
		"INPUT_GITHUB-TOKEN="+testToken, "INPUT_MODEL-PATH=test/model", "INPUT_RUNS=1", "INPUT_BASE-REF=main~1", "INPUT_HEAD-REF=main",
		"INPUT_COMMENT=never", "INPUT_SANDBOX=none")
	if os.Geteuid() == 0 {
		t.Log("running as root: diffperf runs as nobody (65534), since root reads any process's environment")
		for _, p := range []string{root, fakeDir} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{repo, runnerTemp, home, root} {
			if err := filepath.Walk(p, func(path string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(path, 65534, 65534)
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(filepath.Dir(repo), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("diffperf action: %v\n%s", err, out)
	}
	got, err := os.ReadFile(parentEnv)
	if err != nil {
		t.Fatalf("the benchmark did not run: %v\n%s", err, out)
	}
	if strings.Contains(string(got), testToken) {
		t.Fatalf("the benchmark read the token from diffperf's /proc environ:\n%.300s", got)
	}
	if !strings.Contains(string(got), "unreadable") {
		t.Errorf("the benchmark read diffperf's environment (without the token?):\n%.300s", got)
	}
}

// TestCLIOutputInActionsIsInert: the CLI run inside a workflow step (a
// `run:` step calling diffperf compare) prints a report that holds text
// from dumps; none of it may act as a workflow command.
func TestCLIOutputInActionsIsInert(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dump := `{"total_duration_ms": 100, "steps": [{"name": "x\n::error::forged\n::set-output name=verdict::no-change", "duration_ms": 1}]}`
	for _, f := range []string{"base.json", "head.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string {
		if k == "GITHUB_ACTIONS" {
			return "true"
		}
		return ""
	}
	code, out, _ := runCLI(t, getenv, "compare", "--format", "json", filepath.Join(dir, "base.json"), filepath.Join(dir, "head.json"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "::stop-commands::") {
		t.Fatalf("output not framed: %.200q", out)
	}
	token := strings.TrimPrefix(lines[0], "::stop-commands::")
	if last := lines[len(lines)-2]; last != "::"+token+"::" {
		t.Errorf("output does not resume commands at its end: %q", last)
	}
	// Outside Actions, the plain report.
	if _, plain, _ := runCLI(t, nil, "compare", "--format", "json", filepath.Join(dir, "base.json"), filepath.Join(dir, "head.json")); strings.Contains(plain, "::stop-commands::") {
		t.Error("framed outside Actions")
	}
}

func TestKeyFolder(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{"flux-h100-ab12": "flux-h100-ab12", "org/m": "org_m", "..": "key..", ".": "key.", "": "default", "a b": "a_b"} {
		if got := keyFolder(key); got != want {
			t.Errorf("keyFolder(%q) = %q, want %q", key, got, want)
		}
	}
}
