package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// fallbackSigns are log lines that show sglang fell back to the diffusers
// backend: the numbers are then not sglang's, so the evidence is invalid.
var fallbackSigns = []string{"Falling back to diffusers backend", "Using diffusers backend", "Loaded diffusers pipeline"}

// side is one side's code and runs, by batch ("" for the first, "confirm"
// for the confirming one).
type side struct {
	name, ref, sha string
	worktree       string
	// template is the command with --warmup rewritten to
	// --warmup-mode request where this side's sglang wants that.
	template *Template
	runs     map[string][]dump.Run
	// profileDir, set for a profiled run only, is the profiler's folder.
	profileDir string
}

// runner runs the benchmark command for one side at a time: one fresh
// process per run, with its own dump and log, under process control.
type runner struct {
	template      *Template
	model, prompt string
	args          []string
	pythonPath    string
	timeout       time.Duration
	outDir        string
	env           []string // filtered: no token, no action inputs
	secrets       []string // redacted from logs and tails
	progress      Progress
	order         int // runs started, both sides, all batches
	total         int // runs expected so far, for progress lines
	// serve is the state of mode serve; nil in mode generate.
	serve *serving
	// sandbox confines every process of the PR's code; sandboxRW are the
	// extra read-write paths of input sandbox-rw, gitDir the checkout's
	// .git, which every worktree points into.
	sandbox   *sandbox.Sandbox
	sandboxRW []string
	gitDir    string
	// runnerName is what the report calls the machine (input runner-name).
	runnerName string
}

func newRunner(t *Template, model, prompt string, args []string, pythonPath string, timeout time.Duration, outDir string, env, secrets []string, p Progress) runner {
	return runner{template: t, model: model, prompt: prompt, args: args, pythonPath: pythonPath, timeout: timeout,
		outDir: outDir, env: proc.FilterEnv(env, secrets), secrets: append(slices.Clone(secrets), SecretValues(env, nil)...), progress: p}
}

// env0 is the filtered environment, for helpers such as nvidia-smi.
func (m *runner) env0() []string { return m.env }

func (m *runner) runOne(ctx context.Context, sd *side, batch string) *dump.Failure {
	idx := len(sd.runs[batch]) + 1
	name := dump.RunName(batch, sd.name, idx)
	dumpPath := filepath.Join(m.sideDir(sd), name+".json")
	logPath := filepath.Join(m.outDir, name+".log")
	_ = os.Remove(dumpPath)
	argv := m.argv(sd, dumpPath, idx)
	m.order++
	m.progress.RunStart(m.order, m.total, sd.name, idx)
	res := m.redact(m.proc(sd, argv, m.childEnv(sd, dumpPath, idx), logPath, m.timeout).Run(ctx), logPath)
	failure := func(reason string) *dump.Failure {
		m.progress.RunEnd(m.order, m.total, sd.name, idx, 0, res, logPath, reason)
		return &dump.Failure{Side: sd.name, Run: idx, Reason: reason, LogTail: res.Tail}
	}
	if res.Canceled {
		return failure(fmt.Sprintf("run %d of %s was interrupted (the measurement was canceled), so nothing was decided", idx, sd.name))
	}
	if res.Failed() {
		return failure(fmt.Sprintf("run %d of %s: %s: %s (log: %s)", idx, sd.name, filepath.Base(argv[0]), res.Describe(m.timeout), filepath.Base(logPath)))
	}
	if sign := fallbackSign(res); sign != "" {
		return failure(fmt.Sprintf("run %d of %s fell back to the diffusers backend (%q in its log): the numbers are not sglang's", idx, sd.name, sign))
	}
	d, err := readRunDump(dumpPath)
	if err != nil {
		return failure(fmt.Sprintf("run %d of %s exited 0 but %v", idx, sd.name, err))
	}
	m.keep(dumpPath)
	sd.runs[batch] = append(sd.runs[batch], dump.Run{Index: idx, Order: m.order, Dump: d})
	m.progress.RunEnd(m.order, m.total, sd.name, idx, d.TotalMs, res, logPath, "")
	return nil
}

// redact removes the secrets from what a process printed: its log file,
// and the head and tail kept for reports. The benchmark runs the PR's code,
// which can read its parents' memory or environment in ways diffperf cannot
// rule out, so nothing it printed is published unredacted.
func (m *runner) redact(res proc.Result, logPath string) proc.Result {
	res.Tail = Redact(res.Tail, m.secrets)
	res.Head = []byte(Redact(string(res.Head), m.secrets))
	if err := redactFile(logPath, m.secrets); err != nil {
		m.progress.Step("could not redact " + logPath + ": " + err.Error())
	}
	return res
}

// Redact replaces every occurrence of each secret in s with ***.
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// redactFile rewrites a log file without the secrets, when it holds any.
func redactFile(path string, secrets []string) error {
	if !slices.ContainsFunc(secrets, func(s string) bool { return s != "" }) {
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	clean := Redact(string(data), secrets)
	if clean == string(data) {
		return nil
	}
	return os.WriteFile(path, []byte(clean), 0o600)
}

// maxDumpBytes bounds what is read of one dump: sglang's are a few KiB, and
// a runaway benchmark must not make diffperf read gigabytes.
const maxDumpBytes = 64 << 20

// ReadDump reads and parses one dump file. It reads only a regular file
// (not a FIFO, a device or a symbolic link, which could block or point
// anywhere), and at most 64 MiB of it. A dump that cannot be parsed
// is an *input.Error named "dump PATH".
func ReadDump(path string) (*dump.Dump, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer forever; O_NOFOLLOW: the file itself, not where a link points.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, input.Errorf("dump "+path, "not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDumpBytes+1))
	if err != nil {
		return nil, fmt.Errorf("dump %s: %w", path, err)
	}
	if len(data) > maxDumpBytes {
		return nil, input.Errorf("dump "+path, "larger than %d MiB; not a perf dump", maxDumpBytes>>20)
	}
	return dump.ParseDump(path, data)
}

// readRunDump reads the dump a run (or a request) wrote, named relative to
// the out folder as the report shows it, with errors that read after
// "run N of SIDE exited 0 but".
func readRunDump(path string) (*dump.Dump, error) {
	d, err := ReadDump(path)
	switch {
	case os.IsNotExist(err):
		return nil, fmt.Errorf("wrote no dump at %s", filepath.Base(path))
	case isSymlinkErr(err):
		return nil, fmt.Errorf("left a symbolic link instead of a dump at %s", filepath.Base(path))
	case err != nil:
		return nil, fmt.Errorf("wrote an unusable dump: %v", err)
	}
	d.Name = filepath.Base(path)
	return d, nil
}

// isSymlinkErr reports the error of O_NOFOLLOW on a symbolic link.
func isSymlinkErr(err error) bool {
	var pe *os.PathError
	return err != nil && errors.As(err, &pe) && pe.Err == syscall.ELOOP
}

// fallbackSign is the sign of the diffusers fallback in the run's output,
// or "". Every process of the PR's code is a proc.Cmd with fallbackSigns
// as its Signs (see runner.proc), which are looked for in the whole output
// as it is written, not just the part the log keeps.
func fallbackSign(res proc.Result) string {
	return res.Sign
}

func (m *runner) argv(sd *side, dumpPath string, idx int) []string {
	t := sd.template
	if t == nil {
		t = m.template
	}
	return t.expand(vars{Model: m.model, Prompt: m.prompt, Dump: dumpPath, Side: sd.name, Run: strconv.Itoa(idx), Worktree: sd.worktree, Args: m.args})
}

// childEnv is the filtered environment plus what docs/protocol.md promises the
// benchmark: its side, run, worktree, dump, commit and sync profiling.
func (m *runner) childEnv(sd *side, dumpPath string, idx int) []string {
	env := append([]string(nil), m.env...)
	pp := ""
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			pp = v
			env = append(env[:i], env[i+1:]...)
			break
		}
	}
	if m.pythonPath != "" {
		first := filepath.Join(sd.worktree, m.pythonPath)
		if pp == "" {
			pp = first
		} else {
			pp = first + string(os.PathListSeparator) + pp
		}
	}
	if pp != "" {
		env = append(env, "PYTHONPATH="+pp)
	}
	if sd.profileDir != "" {
		env = append(env, "SGLANG_DIFFUSION_TORCH_PROFILER_DIR="+sd.profileDir, "SGLANG_TORCH_PROFILER_DIR="+sd.profileDir)
	}
	return append(env,
		"DIFFPERF_SIDE="+sd.name,
		"DIFFPERF_RUN="+strconv.Itoa(idx),
		"DIFFPERF_WORKTREE="+sd.worktree,
		"DIFFPERF_DUMP="+dumpPath,
		"SGLANG_GIT_COMMIT="+sd.sha,
		"SGLANG_DIFFUSION_SYNC_STAGE_PROFILING=1",
	)
}

// setup runs the setup command once in the side's worktree.
func (s *Workspace) setup(ctx context.Context, sd *side) *dump.Failure {
	if s.setupCmd == "" {
		return nil
	}
	m := s.r
	m.progress.Step("setup of " + sd.name)
	logPath := filepath.Join(m.outDir, "setup-"+sd.name+".log")
	res := m.redact(m.proc(sd, []string{"/bin/sh", "-c", s.setupCmd}, m.childEnv(sd, "", 0), logPath, 2*m.timeout).Run(ctx), logPath)
	if res.Failed() {
		return &dump.Failure{Side: sd.name, Reason: fmt.Sprintf("setup of %s: %s (log: %s)", sd.name, res.Describe(2*m.timeout), filepath.Base(logPath)), LogTail: res.Tail}
	}
	return nil
}

// probeWarmup asks the side's command for --help once when the template
// has the word --warmup: sglang versions that have --warmup-mode get
// "--warmup-mode request" in its place. Only the template's own words are
// rewritten, never a placeholder's value (a prompt "--warmup" stays). A
// probe that fails changes nothing.
func (m *runner) probeWarmup(ctx context.Context, sd *side) {
	if !m.template.has("--warmup") {
		return
	}
	argv := m.argv(sd, filepath.Join(m.sideDir(sd), "probe.json"), 0)
	probe := []string{argv[0]}
	for _, w := range argv[1:] {
		if strings.HasPrefix(w, "-") {
			break
		}
		probe = append(probe, w)
	}
	probe = append(probe, "--help")
	logPath := filepath.Join(m.outDir, "probe-"+sd.name+".log")
	res := m.proc(sd, probe, m.childEnv(sd, "", 0), logPath, 2*time.Minute).Run(ctx)
	if !res.Failed() && strings.Contains(string(res.Head), "--warmup-mode") {
		sd.template = m.template.replace("--warmup", "--warmup-mode", "request")
		m.progress.Step(sd.name + ": this sglang has --warmup-mode; using --warmup-mode request")
	}
	_ = os.Remove(logPath)
}

// environment is the state the runs start from: the GPUs, the runner's
// name (never the machine's host name, which public reports must not
// carry) and CPUs, and the sandbox.
func (m *runner) environment(before []dump.GPU, note string) *dump.Environment {
	host := fmt.Sprintf("%d CPUs", numCPU())
	if m.runnerName != "" {
		host = m.runnerName + ", " + host
	}
	e := &dump.Environment{Before: before, Note: note, Host: host}
	if m.sandbox != nil {
		e.Sandbox, e.SandboxNote = m.sandbox.Name(), m.sandbox.Line()
	}
	return e
}

// RepeatSpec is one measurement in the current checkout: the sglang
// workflow of `diffperf bench`.
type RepeatSpec struct {
	Dir           string
	Template      *Template
	Model, Prompt string
	Args          []string
	Runs          int
	Timeout       time.Duration
	OutDir        string
	Env, Secrets  []string
	Progress      Progress
	// Serve, when set, measures warm servers instead (mode serve): Runs
	// launches of Serve.Requests requests each.
	Serve *Serve
	// Sandbox and SandboxRW are those of Spec.
	Sandbox   *sandbox.Sandbox
	SandboxRW []string
}

// Repeat runs the command Runs times in Dir, each a fresh process writing its
// own dump. A failed run stops it and is returned as a Failure with the runs
// so far.
func Repeat(ctx context.Context, s RepeatSpec) ([]dump.Run, *dump.Failure, error) {
	if s.Runs < 1 {
		return nil, nil, input.Errorf("runs", "%d is not a positive count", s.Runs)
	}
	if s.Progress == nil {
		s.Progress = nopProgress{}
	}
	m := newRunner(s.Template, s.Model, s.Prompt, s.Args, "", s.Timeout, s.OutDir, s.Env, s.Secrets, s.Progress)
	sd := &side{name: "bench", worktree: s.Dir, runs: map[string][]dump.Run{}}
	if sha, err := (git.Repo{Dir: s.Dir, Env: m.env}).Run(ctx, "rev-parse", "HEAD"); err == nil {
		sd.sha = sha
	}
	if err := m.useSandbox(ctx, s.Sandbox, s.SandboxRW, git.Repo{Dir: s.Dir, Env: m.env}); err != nil {
		return nil, nil, err
	}
	if s.Serve != nil {
		if tp, ok := s.Progress.(*TextProgress); ok && tp.Unit == "" {
			tp.Unit = "request"
		}
		return m.repeatServe(ctx, s, sd)
	}
	m.probeWarmup(ctx, sd)
	m.total = s.Runs
	for i := 0; i < s.Runs; i++ {
		if f := m.runOne(ctx, sd, ""); f != nil {
			return sd.runs[""], f, ctx.Err()
		}
	}
	return sd.runs[""], nil, nil
}
