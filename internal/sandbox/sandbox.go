// Package sandbox confines the pull request's code (benchmark runs, setup
// commands, warm servers) with bubblewrap, so that nothing it does reaches
// the rest of the job: the runner's file-command files, its actions and
// logs, the runner user's home (.curlrc, .gitconfig, the Go module cache)
// and diffperf's own processes stay out of its reach, and no process of it
// outlives the run.
//
// A Sandbox is resolved once per diffperf process from the mode the user
// chose (input sandbox, flag --sandbox); Wrap turns one command line into
// the bubblewrap command line that runs it under a Policy.
package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/input"
)

// Mode is what the user asked for.
type Mode string

// The modes of input sandbox and flag --sandbox.
const (
	// Auto uses bubblewrap when it is on PATH and a probe works, else none.
	Auto Mode = "auto"
	// Bwrap requires bubblewrap: a runner where it does not work is an error.
	Bwrap Mode = "bwrap"
	// None runs the PR's code as the runner's user with nothing between.
	None Mode = "none"
)

// ParseMode reads a mode; name is the input or flag it came from, for the
// error.
func ParseMode(name, s string) (Mode, error) {
	switch m := Mode(strings.TrimSpace(s)); m {
	case Auto, Bwrap, None:
		return m, nil
	case "":
		return Auto, nil
	}
	return "", input.Errorf(name, "%q is not auto, bwrap or none", s)
}

// Sandbox is a resolved mode: bubblewrap at Path, or none (Path "").
type Sandbox struct {
	// Path is the bwrap program; "" means no sandbox.
	Path string
	// Why says why there is none when auto fell back to none, or that
	// none was chosen; "" under bubblewrap.
	Why string
}

// On reports whether commands run under bubblewrap.
func (s *Sandbox) On() bool { return s != nil && s.Path != "" }

// Line is the one line the report and the step summary carry about the
// sandbox: "" under bubblewrap, a warning otherwise.
func (s *Sandbox) Line() string {
	if s.On() {
		return ""
	}
	why := "chosen"
	if s != nil && s.Why != "" {
		why = s.Why
	}
	return "Sandbox: none (" + why + "): the PR's code ran as the runner's user, with access to everything that user can reach."
}

// ParseList reads the paths of input sandbox-rw: one a line or separated
// by commas, each absolute; name is the input, for the error.
func ParseList(name, s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !filepath.IsAbs(f) {
			return nil, input.Errorf(name, "%q is not an absolute path", f)
		}
		out = append(out, filepath.Clean(f))
	}
	return out, nil
}

// Name is "bwrap" or "none", for result.json.
func (s *Sandbox) Name() string {
	if s.On() {
		return "bwrap"
	}
	return "none"
}

// Resolve turns a mode into a Sandbox, looking for bwrap on pathVar (the
// PATH of the benchmark's environment). Auto and Bwrap probe bubblewrap
// once, by running /bin/true under the same isolation that Wrap asks for:
// a runner or container where unprivileged user namespaces are off fails
// the probe. Under Bwrap that is an *input.Error named name; under Auto it
// is the Why of a Sandbox that is none.
func Resolve(ctx context.Context, name string, m Mode, pathVar string) (*Sandbox, error) {
	if m == None {
		return &Sandbox{}, nil
	}
	path, err := lookPath("bwrap", pathVar)
	if err == nil {
		err = probe(ctx, path)
	}
	if err == nil {
		return &Sandbox{Path: path}, nil
	}
	if m == Bwrap {
		return nil, input.Errorf(name, "bwrap: %v; install bubblewrap (Debian and Ubuntu: apt-get install bubblewrap) and allow unprivileged user namespaces, or choose auto or none", err)
	}
	return &Sandbox{Why: "bubblewrap " + err.Error()}, nil
}

// probe runs /bin/true under the isolation of Wrap.
func probe(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	argv := append(baseArgs(), "--", "/bin/true")
	cmd := exec.CommandContext(ctx, path, argv...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("does not work here (%s)", msg)
	}
	return nil
}

func lookPath(name, pathVar string) (string, error) {
	for _, d := range filepath.SplitList(pathVar) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("is not on the PATH")
}

// Policy is what one sandboxed command may see and change. Every path is
// absolute; paths that do not exist are left out.
type Policy struct {
	// ReadWrite paths are bound read-write: the side's worktree, its
	// dump folder, the paths of input sandbox-rw.
	ReadWrite []string
	// ReadOnly paths stay visible, read-only, even inside a hidden folder
	// or /tmp: the install prefixes of sglang and python, the tool cache,
	// the checkout's .git, the model cache. One that is not inside a
	// hidden folder is visible anyway, as / is.
	ReadOnly []string
	// Hide are folders replaced by an empty tmpfs: RUNNER_TEMP, the
	// runner's _actions and _diag, diffperf's out folder.
	Hide []string
	// Home is the runner user's HOME, replaced by an empty one at the
	// same path (its venv or model cache can come back through ReadOnly).
	Home string
	// Mask are files that read as empty (/dev/null is bound over each,
	// after every other bind): the runner's credentials in its root
	// folder, the Hugging Face token files in a model cache shown
	// read-only.
	Mask []string
}

// baseArgs is the isolation of every sandboxed command: its own user
// namespace without capabilities (as root, bubblewrap keeps capabilities
// that could unmount what hides the runner), its own PID namespace, which
// dies with diffperf, a new session (no terminal to push input into), /
// read-only, the host's /dev (the GPU's device nodes) with a private
// /dev/shm (the host's is shared by every job), a fresh /proc of its own
// namespace and a private /tmp. The network is shared: serve mode
// talks to the server on loopback.
func baseArgs() []string {
	return []string{
		"--unshare-user", "--cap-drop", "ALL",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--die-with-parent", "--new-session",
		"--ro-bind", "/", "/",
		"--dev-bind", "/dev", "/dev",
		"--tmpfs", "/dev/shm",
		"--proc", "/proc",
		"--tmpfs", "/tmp",
	}
}

// Wrap returns the command line that runs argv (argv[0] an absolute path)
// in dir under bubblewrap with policy p. The caller must start it from a
// locked OS thread (runtime.LockOSThread) and keep that thread until it
// has waited for it: --die-with-parent follows the thread that forked.
// Without bubblewrap it returns argv as it is.
func (s *Sandbox) Wrap(argv []string, dir string, p Policy) []string {
	if !s.On() {
		return argv
	}
	args := append([]string{s.Path}, baseArgs()...)
	hidden := []string{"/tmp"}
	hides := clean(p.Hide)
	if h := filepath.Clean(p.Home); p.Home != "" && filepath.IsAbs(h) && h != "/" && exists(h) {
		hides = clean(append(hides, h))
	}
	for _, h := range hides {
		if h == "/" || h == "/tmp" || h == "/dev" || h == "/proc" {
			continue
		}
		args = append(args, "--tmpfs", h)
		hidden = append(hidden, h)
	}
	type bind struct {
		path string
		rw   bool
	}
	var binds []bind
	for _, ro := range clean(p.ReadOnly) {
		// Only what a hidden folder would otherwise hide; an ancestor of
		// a hidden folder would undo the hiding.
		if slices.ContainsFunc(hidden, func(h string) bool { return within(ro, h) && ro != h }) &&
			!slices.ContainsFunc(hides, func(h string) bool { return within(h, ro) }) {
			binds = append(binds, bind{ro, false})
		}
	}
	for _, rw := range clean(p.ReadWrite) {
		binds = append(binds, bind{rw, true})
	}
	// Outer folders first, so that a deeper bind wins inside them; at the
	// same path, read-write last.
	slices.SortStableFunc(binds, func(a, b bind) int {
		if d := depth(a.path) - depth(b.path); d != 0 {
			return d
		}
		if a.path == b.path && a.rw != b.rw {
			if a.rw {
				return 1
			}
			return -1
		}
		return 0
	})
	for _, b := range binds {
		if b.rw {
			args = append(args, "--bind", b.path, b.path)
		} else {
			args = append(args, "--ro-bind", b.path, b.path)
		}
	}
	for _, m := range clean(p.Mask) {
		args = append(args, "--ro-bind", "/dev/null", m)
	}
	if dir != "" {
		args = append(args, "--chdir", dir)
	}
	return append(append(args, "--"), argv...)
}

// clean makes paths absolute and clean, drops those that do not exist and
// repeats, and sorts them.
func clean(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		p = filepath.Clean(p)
		if exists(p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

func depth(p string) int { return strings.Count(p, "/") }

// Prefix is the install prefix of a program at path: the folder above
// its bin folder (a venv, a conda environment, /usr/local) or above its
// shims folder (a version manager such as pyenv or asdf, whose shim runs
// the manager's own scripts and the interpreter it installed beside
// them), or its own folder otherwise.
func Prefix(path string) string {
	dir := filepath.Dir(path)
	if b := filepath.Base(dir); b == "bin" || b == "shims" {
		return filepath.Dir(dir)
	}
	return dir
}

// Protected reports the first of the runner's folders that a read-write
// path would expose or let the sandboxed code change: a path that is one
// of them or holds one. "" when there is none.
func Protected(rw string, protected []string) string {
	rw = filepath.Clean(rw)
	for _, p := range protected {
		if p != "" && within(filepath.Clean(p), rw) {
			return p
		}
	}
	return ""
}
