package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/git"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/proc"
	"github.com/diffperf/diffperf/internal/sandbox"
)

// proc is one process of the PR's code for side sd (a run, the setup, a
// probe, a server), in the side's worktree, under the runner's sandbox.
func (m *runner) proc(sd *side, argv, env []string, logPath string, timeout time.Duration) proc.Cmd {
	return proc.Cmd{Argv: argv, Dir: sd.worktree, Env: env, Log: logPath, Timeout: timeout, Sandbox: m.sandbox, Policy: m.policy(sd), Signs: fallbackSigns}
}

// sideDir is the folder where sd's processes write their dumps, made when
// missing: the only part of the out folder the sandbox lets them see.
// diffperf moves each dump it has read into the out folder itself (keep).
func (m *runner) sideDir(sd *side) string {
	dir := dump.SideDir(m.outDir, sd.name)
	_ = os.MkdirAll(dir, 0o700)
	return dir
}

// keep moves a dump that was read from the side's folder into the out
// folder, under the same name, where reports and `diffperf compare` look
// for it. A dump that cannot be moved stays where it is.
func (m *runner) keep(dumpPath string) {
	_ = os.Rename(dumpPath, filepath.Join(m.outDir, filepath.Base(dumpPath)))
}

// getenv reads a variable of the benchmark's environment.
func (m *runner) getenv(key string) string {
	v := ""
	for _, kv := range m.env {
		if val, ok := strings.CutPrefix(kv, key+"="); ok {
			v = val
		}
	}
	return v
}

// workDir is the runner's _work folder: RUNNER_WORKSPACE's parent, or
// RUNNER_TEMP's when it is _work/_temp; "" when neither says.
func (m *runner) workDir() string {
	if ws := m.getenv("RUNNER_WORKSPACE"); ws != "" {
		return filepath.Dir(ws)
	}
	if temp := m.getenv("RUNNER_TEMP"); temp != "" && filepath.Base(temp) == "_temp" {
		return filepath.Dir(temp)
	}
	return ""
}

// runnerFolders are the runner's folders a benchmark must neither read
// nor change: RUNNER_TEMP (the file-command files), the runner's
// _work/_actions (the code of later steps) and _diag (its logs).
func (m *runner) runnerFolders() []string {
	var dirs []string
	temp := m.getenv("RUNNER_TEMP")
	if temp != "" {
		dirs = append(dirs, temp)
	}
	if work := m.workDir(); work != "" {
		dirs = append(dirs, filepath.Join(work, "_actions"), filepath.Join(filepath.Dir(work), "_diag"))
	}
	return dirs
}

// runnerSecrets are the files of the runner's root folder (the folder
// above _work, such as /opt/actions-runner) that hold its registration
// and credentials, or its settings: the benchmark must not read them.
var runnerSecrets = []string{".credentials", ".credentials_rsaparams", ".runner", ".env", ".path"}

// runnerRootFiles are the runnerSecrets of the runner's root folder,
// found from RUNNER_WORKSPACE or RUNNER_TEMP (_work's parent); none when
// neither says where _work is.
func (m *runner) runnerRootFiles() []string {
	work := m.workDir()
	if work == "" {
		return nil
	}
	var files []string
	for _, f := range runnerSecrets {
		files = append(files, filepath.Join(filepath.Dir(work), f))
	}
	return files
}

// policy is what sd's processes may see: read-write its worktree, its
// dump folder and sandbox-rw; read-only the python install, the tool
// cache, the checkout's .git and the model cache (HF_HOME, HF_HUB_CACHE,
// HUGGINGFACE_HUB_CACHE); hidden the runner's folders, the rest of HOME
// and the out folder; empty the runner's credential files and the Hugging
// Face token files.
func (m *runner) policy(sd *side) sandbox.Policy {
	if !m.sandbox.On() {
		return sandbox.Policy{}
	}
	home := m.getenv("HOME")
	p := sandbox.Policy{
		ReadWrite: append([]string{sd.worktree, m.sideDir(sd)}, m.sandboxRW...),
		Hide:      append(m.runnerFolders(), m.outDir),
		Home:      home,
		Mask:      m.runnerRootFiles(),
	}
	for _, py := range []string{"python3", "python"} {
		if path, err := proc.LookPath(py, m.env, sd.worktree); err == nil {
			p.ReadOnly = append(p.ReadOnly, sandbox.Prefix(path))
			if real, err := filepath.EvalSymlinks(path); err == nil {
				p.ReadOnly = append(p.ReadOnly, sandbox.Prefix(real))
			}
		}
	}
	p.ReadOnly = append(p.ReadOnly, m.getenv("RUNNER_TOOL_CACHE"), m.gitDir, hfModelCache(m.env),
		m.getenv("HF_HUB_CACHE"), m.getenv("HUGGINGFACE_HUB_CACHE"))
	p.Mask = append(p.Mask, hfTokenFiles(m.env)...)
	return p
}

// useSandbox sets the sandbox of the runner, with the read-write paths
// of input sandbox-rw, refusing one that would expose the runner's
// folders or HOME; gitDir is the checkout's .git.
func (m *runner) useSandbox(ctx context.Context, sb *sandbox.Sandbox, rw []string, g git.Repo) error {
	m.sandbox = sb
	if !sb.On() {
		return nil
	}
	protected := append(m.runnerFolders(), m.outDir)
	if home := m.getenv("HOME"); home != "" {
		protected = append(protected, home)
	}
	for _, p := range rw {
		if !filepath.IsAbs(p) {
			return input.Errorf("sandbox-rw", "%q is not an absolute path", p)
		}
		if hit := sandbox.Protected(p, protected); hit != "" {
			return input.Errorf("sandbox-rw", "%s would let the benchmark change %s, which the sandbox protects; name a folder inside it instead", p, hit)
		}
	}
	m.sandboxRW = rw
	if dir, err := g.Run(ctx, "rev-parse", "--path-format=absolute", "--git-common-dir"); err == nil {
		m.gitDir = dir
	}
	return nil
}
