package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/proc"
)

// server is one launch of one side's server.
type server struct {
	sd     *side
	batch  string
	launch int
	port   int
	url    string // http://127.0.0.1:PORT
	proc   *proc.Running
	log    string
	// sent counts the requests sent, warm-ups included: request n of a
	// launch is the server's n-th.
	sent    int
	loadMs  float64 // from the start to the first healthy answer
	stopped bool
	ended   proc.Result // how the server ended, once stopped
}

// launchError is a launch that failed; exitedStarting says the server
// exited on its own before it was healthy (not a timeout or a cancel).
type launchError struct {
	*dump.Failure
	exitedStarting bool
}

// portTries bounds the launches of one server whose port another process
// took between diffperf picking it and the server binding it.
const portTries = 3

// launch starts the next launch of sd's server in batch on a free port and
// waits until GET /health answers 200, within the timeout. A server that
// exits first fails at once; one that could not bind its port is launched
// again on another.
func (m *runner) launch(ctx context.Context, sd *side, batch string) (*server, *launchError) {
	m.serve.launched[key(sd, batch)]++
	n := m.serve.launched[key(sd, batch)]
	name := dump.LaunchName(batch, sd.name, n)
	logPath := filepath.Join(m.outDir, name+".log")
	fail := func(reason, tail string, exited bool) *launchError {
		return &launchError{&dump.Failure{Side: sd.name, Launch: n, Reason: reason, LogTail: Redact(tail, m.secrets)}, exited}
	}
	for try := 1; ; try++ {
		port, err := freePort()
		if err != nil {
			return nil, fail(fmt.Sprintf("launch %d of %s: no free port on 127.0.0.1: %v", n, sd.name, err), "", false)
		}
		argv := m.serve.Template.expand(vars{Model: m.model, Side: sd.name, Run: strconv.Itoa(n), Worktree: sd.worktree, Port: strconv.Itoa(port), Args: m.args})
		env := append(m.childEnv(sd, "", n), "DIFFPERF_LAUNCH="+name)
		m.progress.Step(fmt.Sprintf("launch %d of %s: starting the server on port %d", n, sd.name, port))
		start := time.Now()
		proc, err := m.proc(sd, argv, env, logPath, 0).Start(ctx)
		if err != nil {
			return nil, fail(fmt.Sprintf("launch %d of %s: %s: %v (log: %s)", n, sd.name, filepath.Base(argv[0]), err, filepath.Base(logPath)), "", false)
		}
		srv := &server{sd: sd, batch: batch, launch: n, port: port, url: "http://127.0.0.1:" + strconv.Itoa(port), proc: proc, log: logPath}
		done := func() {}
		if w, ok := m.progress.(waiter); ok {
			done = w.Waiting(fmt.Sprintf("launch %d of %s", n, sd.name)) // a model load takes minutes
		}
		why, exited := m.waitHealthy(ctx, srv)
		done()
		if why == "" {
			srv.loadMs = float64(time.Since(start)) / float64(time.Millisecond)
			m.progress.Step(fmt.Sprintf("launch %d of %s: healthy after %.1f s", n, sd.name, srv.loadMs/1000))
			return srv, nil
		}
		res := m.redact(srv.proc.Stop(), logPath)
		srv.stopped = true
		if exited && portTaken(res) && try < portTries {
			m.progress.Step(fmt.Sprintf("launch %d of %s: port %d was taken before the server could bind it; trying another", n, sd.name, port))
			continue
		}
		if exited {
			why = fmt.Sprintf("exited before it was healthy: %s", res.Describe(0))
		}
		return nil, fail(fmt.Sprintf("launch %d of %s: the server %s (log: %s)", n, sd.name, why, filepath.Base(logPath)), res.Tail, exited)
	}
}

// waitHealthy polls GET /health, with backoff, until it answers 200, the
// server exits (exited), the timeout passes or ctx ends; why says what
// went wrong, "" when healthy.
func (m *runner) waitHealthy(ctx context.Context, srv *server) (why string, exited bool) {
	deadline := time.NewTimer(m.timeout)
	defer deadline.Stop()
	wait := 50 * time.Millisecond
	last := "no answer yet"
	for {
		select {
		case <-srv.proc.Done():
			return "exited", true
		case <-ctx.Done():
			return "was canceled while starting", false
		case <-deadline.C:
			return fmt.Sprintf("was not healthy after %s (the timeout): GET /health: %s", m.timeout, last), false
		case <-time.After(wait):
		}
		wait = min(wait*3/2, 500*time.Millisecond)
		status, err := m.get(ctx, srv.url+"/health", 5*time.Second)
		switch {
		case err != nil:
			last = err.Error()
		case status == http.StatusOK:
			select {
			case <-srv.proc.Done():
				// Something answered, but not our server: it exited.
				return "exited", true
			default:
				return "", false
			}
		default:
			last = fmt.Sprintf("HTTP %d", status)
		}
	}
}

// get asks url once, within limit, and returns the status code.
func (m *runner) get(ctx context.Context, url string, limit time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := m.serve.client.Do(req)
	if err != nil {
		return 0, errors.Unwrap(err) // *url.Error repeats the URL
	}
	defer resp.Body.Close()
	_, _ = drain(resp.Body, 0, 1<<20)
	return resp.StatusCode, nil
}

// stop ends a launch: its server's process group and tagged descendants
// are killed, its log is redacted, and a log that shows the diffusers
// fallback fails the launch.
func (m *runner) stop(srv *server) *dump.Failure {
	if srv.stopped {
		return nil
	}
	srv.stopped = true
	res := m.redact(srv.proc.Stop(), srv.log)
	srv.ended = res
	m.serve.client.CloseIdleConnections() // to a server that is gone
	if sign := fallbackSign(res); sign != "" {
		return &dump.Failure{Side: srv.sd.name, Launch: srv.launch, LogTail: res.Tail,
			Reason: fmt.Sprintf("launch %d of %s fell back to the diffusers backend (%q in its log): the numbers are not sglang's", srv.launch, srv.sd.name, sign)}
	}
	return nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before the server binds it: launch then tries again.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portTaken reports whether a server's output says it could not bind its
// port (uvicorn: "[Errno 98] ... address already in use").
func portTaken(res proc.Result) bool {
	out := strings.ToLower(string(res.Head) + res.Tail)
	return strings.Contains(out, "address already in use") || strings.Contains(out, "errno 98") || strings.Contains(out, "eaddrinuse")
}

// nvidiaSMI runs nvidia-smi, found on env's PATH, with args; a note
// instead of its output when it is absent or fails.
func nvidiaSMI(ctx context.Context, env []string, args ...string) (string, string) {
	path, err := proc.LookPath("nvidia-smi", env, "/")
	if err != nil {
		return "", "nvidia-smi is not on the PATH"
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Sprintf("nvidia-smi failed (%v): %s", err, truncate(firstLine(strings.TrimSpace(stderr.String())), 200))
	}
	return stdout.String(), ""
}
