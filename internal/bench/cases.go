package bench

import (
	"context"
	"fmt"
	"slices"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
)

// Case is what one case of a session runs: its command and the values of
// its placeholders, and where its dumps and logs go. Several cases share a
// session's worktrees and setup (input cases), one after the other.
type Case struct {
	Template      *Template
	Model, Prompt string
	Args          []string
	// OutDir receives the case's dumps and logs; it must exist, and no
	// other case may use it, since run files are named by side and number.
	OutDir string
}

// UseCase makes the next pairs run c: the runs measured so far are let go
// (the caller has their result), run numbers start again at 1, and the
// GPU state is read again as the case's "before". When c's command differs
// from the last one, each side asks its sglang again whether it wants
// --warmup-mode.
func (s *Session) UseCase(ctx context.Context, c Case) error {
	switch {
	case c.Template == nil:
		return input.Errorf("command", "no template")
	case c.OutDir == "":
		return input.Errorf("out", "the case's out folder is required")
	}
	changed := !slices.Equal(c.Template.Words(), s.template.Words())
	s.template, s.model, s.prompt, s.args, s.outDir = c.Template, c.Model, c.Prompt, c.Args, c.OutDir
	s.order, s.total = 0, 0
	for _, sd := range s.sides {
		sd.runs = map[string][]dump.Run{}
		if changed {
			sd.template = nil
			s.probeWarmup(ctx, sd)
		}
	}
	before, note := ReadGPUs(ctx, s.env0())
	s.env = s.environment(before, note)
	if ctx.Err() != nil {
		return fmt.Errorf("case not started: %w", ctx.Err())
	}
	return nil
}
