package command

import (
	"context"

	"github.com/diffperf/diffperf/internal/sandbox"
)

// confine resolves --sandbox (probing bubblewrap once) and --sandbox-rw,
// and says in one line on stderr when the benchmark runs unconfined.
func (f *measureFlags) confine(ctx context.Context, e Env) (*sandbox.Sandbox, []string, error) {
	return resolveSandbox(ctx, e, "--sandbox", f.sandbox, "--sandbox-rw", f.sandboxRW)
}

func resolveSandbox(ctx context.Context, e Env, modeName, mode, rwName, rw string) (*sandbox.Sandbox, []string, error) {
	m, err := sandbox.ParseMode(modeName, mode)
	if err != nil {
		return nil, nil, err
	}
	paths, err := sandbox.ParseList(rwName, rw)
	if err != nil {
		return nil, nil, err
	}
	sb, err := sandbox.Resolve(ctx, modeName, m, e.Getenv("PATH"))
	if err != nil {
		return nil, nil, err
	}
	if line := sb.Line(); line != "" {
		progressFor(e).Step(line)
	}
	return sb, paths, nil
}
