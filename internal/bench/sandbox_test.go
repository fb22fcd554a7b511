package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/diffperf/diffperf/internal/report"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// needBwrap is bubblewrap resolved as mode bwrap, or a skip that says why
// (not installed, or user namespaces off on this machine). CI installs it.
func needBwrap(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Resolve(context.Background(), "sandbox", sandbox.Bwrap, os.Getenv("PATH"))
	if err != nil {
		t.Skipf("bubblewrap is needed for this test and does not work here: %v", err)
	}
	return sb
}

// fakeRunner is a runner's folders as GitHub lays them out: RUNNER_TEMP
// with the four file-command files, _work/_actions with a checked-out
// action, and the runner user's HOME. It lives outside /tmp, as on a
// runner, so that what hides it is the sandbox's hiding, not its private
// /tmp.
type fakeRunner struct {
	temp, workspace, home string
	files                 map[string]string // path: content it must keep
}

func newFakeRunner(t *testing.T) *fakeRunner {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.MkdirTemp(wd, ".fake-runner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	f := &fakeRunner{temp: filepath.Join(root, "_work", "_temp"), workspace: filepath.Join(root, "_work", "repo"),
		home: mkdir(t, root, "home"), files: map[string]string{}}
	mkdir(t, f.workspace)
	for _, kind := range []string{"set_env", "add_path", "set_output", "step_summary"} {
		f.files[filepath.Join(mkdir(t, f.temp, "_runner_file_commands"), kind+"_0a1b2c")] = ""
	}
	f.files[filepath.Join(mkdir(t, root, "_work", "_actions", "actions", "checkout", "v4"), "action.yml")] = "name: checkout\n"
	f.files[filepath.Join(root, ".credentials_rsaparams")] = `{"d":"c2VjcmV0LXJzYS1rZXk"}`
	f.files[filepath.Join(mkdir(t, f.home, ".cache", "huggingface"), "token")] = "hf_fakerunnertoken0123"
	for path, content := range f.files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fakeRunner) env() []string {
	return append(withFake(), "RUNNER_TEMP="+f.temp, "RUNNER_WORKSPACE="+f.workspace, "HOME="+f.home)
}

// marked lists the processes whose environment carries FAKESGLANG_MARK=mark.
func marked(mark string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if env, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(env, []byte("FAKESGLANG_MARK="+mark+"\x00")) {
			out = append(out, pid)
		}
	}
	return out
}

var attackRE = regexp.MustCompile(`(?m)^attack ([a-z-]+): (ok|failed)(.*)$`)

// TestHostileBenchmarkIsContained runs a benchmark that tries every attack
// on the rest of the job, under bubblewrap and without a sandbox: under
// bubblewrap each one fails, without one each one that only the sandbox
// stops succeeds, so the test shows what the sandbox prevents.
func TestHostileBenchmarkIsContained(t *testing.T) {
	t.Parallel()
	bwrap := needBwrap(t)
	for _, mode := range []string{"bwrap", "none"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sb := &sandbox.Sandbox{}
			if mode == "bwrap" {
				sb = bwrap
			}
			fr := newFakeRunner(t)
			var b [8]byte
			_, _ = rand.Read(b[:])
			mark := hex.EncodeToString(b[:])
			w := workload("step_ms", "1", "behavior", "hostile", "mark", mark, "target_pid", strconv.Itoa(os.Getpid()))
			repo, _, _ := newRepo(t, w, w)
			s := spec(t, repo, "main~1", "main")
			s.Env, s.Sandbox = fr.env(), sb
			r := measure(t, s, 1)
			if r.Verdict == report.Failed {
				t.Fatalf("failed: %s\n%s", r.Reason, r.Failure.LogTail)
			}
			logText, err := os.ReadFile(filepath.Join(s.OutDir, "base-01.log"))
			if err != nil {
				t.Fatal(err)
			}
			attacks := map[string]string{}
			for _, m := range attackRE.FindAllStringSubmatch(string(logText), -1) {
				attacks[m[1]] = m[2] + m[3]
			}
			if len(attacks) != 11 {
				t.Fatalf("the hostile benchmark reported %d attacks, want 11:\n%s", len(attacks), logText)
			}
			t.Logf("what the benchmark said: %v", attacks)
			alive := marked(mark)
			for _, pid := range alive {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			changed := map[string]bool{}
			for path, want := range fr.files {
				got, _ := os.ReadFile(path)
				changed[filepath.Base(path)] = string(got) != want
			}
			shm := "/dev/shm/diffperf-hostile-" + mark
			_, shmErr := os.Lstat(shm)
			_ = os.Remove(shm)
			planted := func(rel string) bool {
				_, err := os.Lstat(filepath.Join(fr.home, rel))
				return err == nil
			}
			// What happened, outside the benchmark's view: true means the
			// attack worked.
			got := map[string]bool{
				"set_env":      changed["set_env_0a1b2c"],
				"add_path":     changed["add_path_0a1b2c"],
				"set_output":   changed["set_output_0a1b2c"],
				"step_summary": changed["step_summary_0a1b2c"],
				"actions":      changed["action.yml"],
				"curlrc":       planted(".curlrc"),
				"gitconfig":    planted(".gitconfig"),
				"gomodcache":   planted("go/pkg/mod/planted"),
				"daemon":       len(alive) > 0,
				"proc-environ": strings.HasPrefix(attacks["proc-environ"], "ok"),
				"rsaparams":    strings.HasPrefix(attacks["rsaparams"], "ok"),
				"hf-token":     strings.HasPrefix(attacks["hf-token"], "ok"),
				"dev-shm":      shmErr == nil,
			}
			for what, worked := range got {
				if want := mode == "none"; worked != want {
					t.Errorf("sandbox %s: attack %s worked=%v, want %v (it said %q)", mode, what, worked, want, attacks[what])
				}
			}
			if mode == "bwrap" && attacks["capeff"] != "ok 0000000000000000" {
				t.Errorf("CapEff inside the sandbox: %q, want 0000000000000000", attacks["capeff"])
			}
		})
	}
}

// TestSandboxKeepsVerdicts measures the same A/A and the same regression
// under bubblewrap and without a sandbox, in mode generate and in mode
// serve (the server on loopback): the verdicts are the same.
func TestSandboxKeepsVerdicts(t *testing.T) {
	t.Parallel()
	bwrap := needBwrap(t)
	tests := []struct {
		name       string
		base, head string
		serve      bool
		want       report.Verdict
	}{
		{"generate A/A", workload("step_ms", "2"), workload("step_ms", "2"), false, report.NoChange},
		{"generate regression", workload("step_ms", "2"), workload("step_ms", "8"), false, report.Regression},
		{"serve A/A", serveWorkload("step_ms", "2", "sleep_scale", "1"), serveWorkload("step_ms", "2", "sleep_scale", "1"), true, report.NoChange},
		{"serve regression", serveWorkload("step_ms", "2", "sleep_scale", "1"), serveWorkload("step_ms", "8", "sleep_scale", "1"), true, report.Regression},
	}
	for _, tt := range tests {
		for _, mode := range []string{"bwrap", "none"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				repo, _, _ := newRepo(t, tt.base, tt.head)
				s := spec(t, repo, "main~1", "main")
				if tt.serve {
					s = serveSpec(t, repo, TogetherNo)
				}
				if mode == "bwrap" {
					s.Sandbox = bwrap
				}
				fr := newFakeRunner(t)
				s.Env = fr.env()
				r := measure(t, s, 4)
				if r.Verdict != tt.want {
					reason := r.Reason
					if r.Failure != nil {
						reason += "\n" + r.Failure.LogTail
					}
					t.Errorf("sandbox %s: verdict %s (%s), want %s", mode, r.Verdict, reason, tt.want)
				}
			})
		}
	}
}

// TestSandboxRWRefusesRunnerFolders: a sandbox-rw path that is or holds
// one of the folders the sandbox hides would undo the hiding: refused,
// naming the input; a folder inside HOME (a venv) is fine.
func TestSandboxRWRefusesRunnerFolders(t *testing.T) {
	t.Parallel()
	fr := newFakeRunner(t)
	repo, _, _ := newRepo(t, workload("step_ms", "1"), workload("step_ms", "1"))
	for _, tt := range []struct {
		rw, want string
	}{
		{filepath.Dir(fr.temp), "sandbox-rw: " + filepath.Dir(fr.temp) + " would let the benchmark change " + fr.temp},
		{fr.home, "would let the benchmark change " + fr.home},
		{"venv", `sandbox-rw: "venv" is not an absolute path`},
		{filepath.Join(fr.home, "venv"), ""},
	} {
		s := spec(t, repo, "main~1", "main")
		s.Env, s.Sandbox, s.SandboxRW = fr.env(), &sandbox.Sandbox{Path: "/usr/bin/bwrap"}, []string{tt.rw}
		ss, err := Open(context.Background(), s)
		if err == nil {
			err = ss.Close()
			if tt.want != "" {
				t.Errorf("sandbox-rw %s: accepted; want %q", tt.rw, tt.want)
			}
			continue
		}
		if tt.want == "" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("sandbox-rw %s: %v; want %q", tt.rw, err, tt.want)
		}
	}
}

// TestStopSendsSIGTERMInsideTheSandbox: a run stopped (as a timeout
// stops it) gets SIGTERM and its grace, under bubblewrap as without a
// sandbox: the fake traps it and writes a file before it exits.
func TestStopSendsSIGTERMInsideTheSandbox(t *testing.T) {
	t.Parallel()
	bwrap := needBwrap(t)
	for _, mode := range []string{"bwrap", "none"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p, _ := fakeProc(t, "trap-term", time.Minute, 30*time.Second)
			if mode == "bwrap" {
				p.Sandbox, p.Policy = bwrap, sandbox.Policy{ReadWrite: []string{p.Dir}}
			}
			r, err := p.Start(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for !strings.Contains(r.Tail(), "trapping SIGTERM") {
				select {
				case <-r.Done():
					t.Fatalf("the fake exited before it trapped SIGTERM:\n%s", r.Tail())
				case <-time.After(10 * time.Millisecond):
				}
			}
			res := r.Stop()
			if _, err := os.Stat(filepath.Join(p.Dir, "got-sigterm")); err != nil {
				t.Errorf("sandbox %s: the benchmark never got SIGTERM (%v); it ended %s", mode, err, res.Describe(p.Timeout))
			}
		})
	}
}
