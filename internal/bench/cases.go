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
	m := s.ws.r
	changed := !slices.Equal(c.Template.Words(), m.template.Words())
	m.template, m.model, m.prompt, m.args, m.outDir = c.Template, c.Model, c.Prompt, c.Args, c.OutDir
	m.order, m.total = 0, 0
	s.pair.runs = map[string][2][]dump.Run{}
	for _, sd := range []*side{s.base.sd, s.head.sd} {
		sd.runs = map[string][]dump.Run{}
		if changed {
			sd.template = nil
			m.probeWarmup(ctx, sd)
		}
	}
	s.ws.Begin(ctx)
	if ctx.Err() != nil {
		return fmt.Errorf("case not started: %w", ctx.Err())
	}
	return nil
}
