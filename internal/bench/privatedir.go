package bench

import (
	"os"
	"syscall"

	"github.com/diffperf/diffperf/internal/input"
)

// PrivateDir makes dir (and its parents) if it does not exist, with mode
// 0700, and checks that it is safe to work in: a real directory, not a
// symbolic link, owned by the current user, and writable by nobody else. A
// folder that another local user made first, or could write into, would
// let them swap a worktree's scripts or a dump under diffperf's feet. name
// is the input that chose dir, for the error.
func PrivateDir(name, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return input.Wrap(name, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return input.Wrap(name, err)
	}
	if !fi.IsDir() {
		return input.Errorf(name, "%s is not a directory (%s)", dir, fi.Mode().Type())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil // not a Unix file system: nothing more to check
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return input.Errorf(name, "%s belongs to uid %d, not to this user (uid %d): another user could change what runs there; give a folder of your own", dir, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return input.Errorf(name, "%s is writable by others (mode %04o): another user could change what runs there; chmod go-w it or give a folder of your own", dir, perm)
	}
	return nil
}
