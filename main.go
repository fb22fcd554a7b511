// Command diffperf benchmarks sglang-diffusion before and after a change and
// reports the difference with statistics: as a CLI on any machine, and as a
// GitHub Action that comments on pull requests. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/diffperf/diffperf/internal/command"
)

func main() {
	if err := command.HideSecrets(os.Getenv); err != nil {
		// Not fatal: the token is still redacted from all output.
		os.Stderr.WriteString("diffperf: warning: could not hide the token from other processes: " + err.Error() + "\n")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Main(ctx, os.Args[1:], command.Env{
		Getenv: os.Getenv, Environ: os.Environ, Executable: os.Executable, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	stop()
	os.Exit(code)
}
