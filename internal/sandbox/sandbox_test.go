package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffperf/diffperf/internal/input"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Mode
		err  string
	}{
		{"", Auto, ""}, {"auto", Auto, ""}, {" bwrap ", Bwrap, ""}, {"none", None, ""},
		{"docker", "", `sandbox: "docker" is not auto, bwrap or none`},
	} {
		got, err := ParseMode("sandbox", tt.in)
		var ie *input.Error
		if got != tt.want || (tt.err == "") != (err == nil) || err != nil && (!errors.As(err, &ie) || err.Error() != tt.err) {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseList(t *testing.T) {
	t.Parallel()
	got, err := ParseList("sandbox-rw", "/opt/venv, /data/hf/\n\n/x/../y")
	if diff := cmp.Diff([]string{"/opt/venv", "/data/hf", "/y"}, got); err != nil || diff != "" {
		t.Errorf("ParseList: %v (-want +got):\n%s", err, diff)
	}
	if _, err := ParseList("sandbox-rw", "/ok,venv"); err == nil || !strings.Contains(err.Error(), `sandbox-rw: "venv" is not an absolute path`) {
		t.Errorf("relative path: %v", err)
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"/home/u/venv/bin/sglang": "/home/u/venv", "/opt/tools/sglang": "/opt/tools", "/usr/bin/python3": "/usr", "/home/u/.pyenv/shims/python3": "/home/u/.pyenv"} {
		if got := Prefix(in); got != want {
			t.Errorf("Prefix(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestProtected(t *testing.T) {
	t.Parallel()
	protected := []string{"/w/_work/_temp", "/w/_work/_actions", "/home/u"}
	for rw, want := range map[string]string{"/w/_work": "/w/_work/_temp", "/": "/w/_work/_temp", "/home/u": "/home/u", "/home/u/venv": "", "/w/_work/repo": "", "/w/_work/_temp2": ""} {
		if got := Protected(rw, protected); got != want {
			t.Errorf("Protected(%s) = %q, want %q", rw, got, want)
		}
	}
}

// TestWrap: the hiding comes before the binds that show things again
// inside it, a read-only path that would show a hidden folder again is
// dropped, a read-write path wins over a read-only one above it, missing
// paths are left out, and without bubblewrap argv is unchanged.
func TestWrap(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	home, temp, wt, venv := mk("home"), mk("work/_temp"), mk("work/repo/wt"), mk("home/venv")
	cred := filepath.Join(root, ".credentials")
	if err := os.WriteFile(cred, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	sb := &Sandbox{Path: "/usr/bin/bwrap"}
	argv := sb.Wrap([]string{"/home/venv/bin/sglang", "generate"}, wt, Policy{
		ReadWrite: []string{wt, filepath.Join(venv, "lib")},
		ReadOnly:  []string{venv, filepath.Join(root, "work"), filepath.Join(root, "missing")},
		Hide:      []string{temp},
		Home:      home,
		Mask:      []string{cred, filepath.Join(root, ".runner")},
	})
	got := strings.Join(argv, " ")
	for _, want := range []string{
		"--unshare-user --cap-drop ALL --unshare-pid", "--die-with-parent --new-session", "--ro-bind / /", "--dev-bind /dev /dev --tmpfs /dev/shm", "--proc /proc", "--tmpfs /tmp",
		"--tmpfs " + home, "--tmpfs " + temp, "--ro-bind " + venv + " " + venv, "--bind " + wt + " " + wt, "--chdir " + wt, "-- /home/venv/bin/sglang generate",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("argv lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, filepath.Join(root, "work")+" "+filepath.Join(root, "work")) || strings.Contains(got, "missing") || strings.Contains(got, "lib") {
		t.Errorf("an ancestor of a hidden folder, a missing path or a missing rw path is bound:\n%s", got)
	}
	if i, j := slices.Index(argv, "--tmpfs"), slices.Index(argv, "--ro-bind"); i < j {
		t.Errorf("%v", argv)
	}
	last := func(flag, path string) int {
		n := -1
		for i := range argv[:len(argv)-1] {
			if argv[i] == flag && argv[i+1] == path {
				n = i
			}
		}
		return n
	}
	if h, v := last("--tmpfs", home), last("--ro-bind", venv); h < 0 || v < h {
		t.Errorf("the venv is bound at %d, before the home that hides it at %d", v, h)
	}
	// A masked file is emptied after every bind, so no bind shows it
	// again; one that does not exist is left out.
	if m, b := last("--ro-bind", "/dev/null"), last("--bind", wt); m < b || argv[m+2] != cred || strings.Contains(got, ".runner") {
		t.Errorf("the credential file is masked at %d, before the last bind at %d, or a missing one is masked:\n%s", m, b, got)
	}
	if none := (&Sandbox{}).Wrap([]string{"sglang"}, wt, Policy{}); !slices.Equal(none, []string{"sglang"}) {
		t.Errorf("no sandbox: %v", none)
	}
}

// TestLine: only none has a line, and it says why.
func TestLine(t *testing.T) {
	t.Parallel()
	if l := (&Sandbox{Path: "/usr/bin/bwrap"}).Line(); l != "" {
		t.Errorf("bwrap: %q", l)
	}
	if l := (&Sandbox{Why: "bubblewrap is not on the PATH"}).Line(); !strings.HasPrefix(l, "Sandbox: none (bubblewrap is not on the PATH)") {
		t.Errorf("fallen back: %q", l)
	}
	if l := (&Sandbox{}).Line(); !strings.HasPrefix(l, "Sandbox: none (chosen)") {
		t.Errorf("chosen: %q", l)
	}
}
