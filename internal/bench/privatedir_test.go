package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffperf/diffperf/internal/input"
)

func TestPrivateDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(mk("target", 0o700), link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
	}{
		{"new", filepath.Join(root, "new", "deeper"), ""},
		{"mine", mk("mine", 0o755), ""},
		{"world-writable, as /tmp/diffperf-worktrees made first by another user", mk("open", 0o777), "writable by others (mode 0777)"},
		{"group-writable", mk("group", 0o775), "writable by others (mode 0775)"},
		{"a symbolic link", link, "is not a directory"},
		{"a file", file, "not a directory"},
	}
	if os.Geteuid() == 0 {
		theirs := mk("theirs", 0o755)
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ name, dir, want string }{"another user's", theirs, "belongs to uid 65534"})
	}
	for _, tt := range tests {
		err := PrivateDir("worktrees", tt.dir)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			} else if fi, _ := os.Stat(tt.dir); fi.Mode().Perm()&0o077 != 0 && tt.name == "new" {
				t.Errorf("%s: made with mode %v, want 0700", tt.name, fi.Mode().Perm())
			}
			continue
		}
		ie, ok := input.As(err)
		if !ok || ie.Name != "worktrees" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want an input error for worktrees with %q", tt.name, err, tt.want)
		}
	}
}

// TestFreshWorktreeFolder: with no worktree folder given, the session makes
// a fresh one of its own and removes it at the end, rather than using a
// fixed shared path that another user could make first.
func TestFreshWorktreeFolder(t *testing.T) {
	t.Parallel()
	repo, _, _ := newRepo(t, workload("step_ms", "1"), workload("step_ms", "1"))
	s := spec(t, repo, "main~1", "main")
	s.WorktreeRoot = ""
	ss, err := Open(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	root := ss.ws.tempRoot
	fi, err := os.Stat(root)
	if err != nil || fi.Mode().Perm() != 0o700 || !strings.HasPrefix(filepath.Base(root), "diffperf-worktrees-") {
		t.Errorf("worktree folder %s: %v, %v; want a fresh folder with mode 0700", root, fi, err)
	}
	if err := ss.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("worktree folder %s left behind: %v", root, err)
	}
}
