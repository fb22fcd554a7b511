package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ProfiledSteps is the number of denoising steps a profiled run profiles
// (--num-profiled-timesteps, the request field num_profiled_timesteps),
// after sglang's one warm-up step.
const ProfiledSteps = 5

// Profiled is one side's profiled run: where its trace is and what it
// cost. The run is never a timed sample.
type Profiled struct {
	// Side is "base" or "head".
	Side string
	// Dir is the folder the profiler wrote to, in the out folder
	// (profile-SIDE); Trace is the trace found there, "" when none.
	Dir, Trace string
	// Seconds is the wall time of the run (mode serve: of the extra
	// launch, from its start to its stop).
	Seconds float64
	// Err says why the run or its trace failed; nil when Trace is set.
	Err error
}

// ProfileDir is the folder in outDir of side's profiled run.
func ProfileDir(outDir, side string) string {
	return filepath.Join(outDir, "profile-"+side)
}

// Profile runs one profiled run of each side, base then head, with
// sglang's profiler: in mode generate the side's command with --profile
// --num-profiled-timesteps 5 (and --profile-all-stages when allStages);
// in mode serve one extra launch of the side's server, whose one request
// asks for profile: true and num_profiled_timesteps: 5. The profiler's
// folder (SGLANG_DIFFUSION_TORCH_PROFILER_DIR and
// SGLANG_TORCH_PROFILER_DIR) is a folder inside the side's dump folder,
// which the sandbox lets the run change, moved to ProfileDir afterwards.
// A run that fails is an Err of its side, never a Failure: profiling
// decides nothing.
func (s *Session) Profile(ctx context.Context, allStages bool) [2]Profiled {
	return [2]Profiled{s.base.Profile(ctx, allStages), s.head.Profile(ctx, allStages)}
}

// Profile is one profiled run of the Checkout, as Session.Profile does
// for each side; its folder is profile-NAME in the out folder.
func (c *Checkout) Profile(ctx context.Context, allStages bool) Profiled {
	return c.w.r.profileOne(ctx, c.sd, allStages)
}

func (m *runner) profileOne(ctx context.Context, sd *side, allStages bool) Profiled {
	p := Profiled{Side: sd.name, Dir: ProfileDir(m.outDir, sd.name)}
	_ = os.RemoveAll(p.Dir)
	inside := filepath.Join(m.sideDir(sd), "profile")
	_ = os.RemoveAll(inside)
	if err := os.MkdirAll(inside, 0o700); err != nil {
		p.Err = fmt.Errorf("profile folder of %s: %w", sd.name, err)
		return p
	}
	psd := *sd
	psd.profileDir = inside
	start := time.Now()
	var runErr error
	if m.serve != nil {
		runErr = m.profileLaunch(ctx, &psd, allStages)
	} else {
		runErr = m.profileRun(ctx, &psd, allStages)
	}
	p.Seconds = time.Since(start).Seconds()
	if err := os.Rename(inside, p.Dir); err != nil {
		p.Err = errors.Join(runErr, fmt.Errorf("keep the profile of %s: %w", sd.name, err))
		return p
	}
	trace, err := findTrace(p.Dir)
	switch {
	case runErr != nil:
		p.Err = runErr
	case err != nil:
		p.Err = fmt.Errorf("profiled run of %s: %w", sd.name, err)
	}
	p.Trace = trace
	return p
}

// profileRun runs sd's command once with the profiler's flags. The dump
// it writes stays in the profile folder: it is no sample.
func (m *runner) profileRun(ctx context.Context, sd *side, allStages bool) error {
	argv := append(m.argv(sd, filepath.Join(sd.profileDir, "profiled-dump.json"), 0), "--profile", "--num-profiled-timesteps", fmt.Sprint(ProfiledSteps))
	if allStages {
		argv = append(argv, "--profile-all-stages")
	}
	logPath := filepath.Join(sd.profileDir, "profiled-run.log")
	m.progress.Step(fmt.Sprintf("profiled run of %s (not timed)", sd.name))
	res := m.redact(m.proc(sd, argv, m.childEnv(sd, filepath.Join(sd.profileDir, "profiled-dump.json"), 0), logPath, m.timeout).Run(ctx), logPath)
	if res.Failed() {
		return fmt.Errorf("profiled run of %s: %s: %s (log: %s)", sd.name, filepath.Base(argv[0]), res.Describe(m.timeout), filepath.Join(filepath.Base(ProfileDir(m.outDir, sd.name)), filepath.Base(logPath)))
	}
	return nil
}

// profileLaunch is one extra launch of sd's server (the profiler's folder
// is fixed when a server starts): its warm-up requests, then one request
// with the profile fields, whose trace the server writes.
func (m *runner) profileLaunch(ctx context.Context, sd *side, allStages bool) error {
	srv, lf := m.launch(ctx, sd, "profile")
	if lf != nil {
		return fmt.Errorf("profiled launch of %s: %s", sd.name, lf.Reason)
	}
	defer m.stop(srv)
	for range m.serve.Warmup {
		if _, f := m.request(ctx, srv, false); f != nil {
			return fmt.Errorf("profiled launch of %s: %s", sd.name, f.Reason)
		}
	}
	body, err := m.requestBody(filepath.Join(sd.profileDir, "profiled-dump.json"))
	if err == nil {
		var fields map[string]json.RawMessage
		if err = json.Unmarshal(body, &fields); err == nil {
			fields["profile"] = json.RawMessage("true")
			fields["num_profiled_timesteps"] = json.RawMessage(fmt.Sprint(ProfiledSteps))
			if allStages {
				fields["profile_all_stages"] = json.RawMessage("true")
			}
			body, err = json.Marshal(fields)
		}
	}
	if err != nil {
		return fmt.Errorf("profiled request of %s: %w", sd.name, err)
	}
	m.progress.Step(fmt.Sprintf("profiled request to launch %d of %s (not timed)", srv.launch, sd.name))
	rctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.send(rctx, srv, body); err != nil {
		return fmt.Errorf("profiled request of %s: %w (server log: %s)", sd.name, err, filepath.Base(srv.log))
	}
	// The trace may be written just after the answer, like a dump.
	deadline := time.Now().Add(m.serve.DumpWait)
	for {
		if _, err := findTrace(sd.profileDir); err == nil || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-rctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// findTrace is the trace in dir: the `*.trace.json.gz` of rank 0, else the
// first by name. It is an error when there is none.
func findTrace(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var traces []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".trace.json.gz") {
			traces = append(traces, n)
		}
	}
	if len(traces) == 0 {
		return "", fmt.Errorf("the profiler wrote no *.trace.json.gz in %s", filepath.Base(dir))
	}
	sort.Strings(traces)
	pick := traces[0]
	for _, t := range traces {
		if strings.Contains(t, "-rank0.") {
			pick = t
			break
		}
	}
	return filepath.Join(dir, pick), nil
}
