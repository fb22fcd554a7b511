package protocol

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/diffperf/diffperf/internal/bench"
	"github.com/diffperf/diffperf/internal/input"
	"github.com/diffperf/diffperf/internal/profile"
	"github.com/diffperf/diffperf/internal/report"
)

// When a measurement profiles one run a side (input profile).
const (
	// ProfileAuto profiles after a confirmed regression (the default).
	ProfileAuto = "auto"
	// ProfileAlways profiles after every measurement that did not fail.
	ProfileAlways = "always"
	// ProfileOff never profiles.
	ProfileOff = "off"
)

// ProfileRows is the number of kernels the report's profile table keeps.
const ProfileRows = 10

// ParseProfile reads input profile: auto ("" too), always or off.
func ParseProfile(name, s string) (string, error) {
	switch v := strings.TrimSpace(s); v {
	case "":
		return ProfileAuto, nil
	case ProfileAuto, ProfileAlways, ProfileOff:
		return v, nil
	}
	return "", input.Errorf(name, "%q is not auto, always or off", s)
}

// wantsProfile reports whether r is to be profiled under when.
func wantsProfile(when string, r *report.Result) bool {
	switch {
	case r.Failure != nil || r.Verdict == report.Failed:
		return false
	case when == ProfileAlways:
		return true
	case when == ProfileOff:
		return false
	}
	return r.Verdict == report.Regression // auto: established (and confirmed, with confirm)
}

// profileResult profiles one run a side when when asks for it, and
// attaches the comparison of their kernels to r. Nothing of it changes
// the verdict: a profiled run or trace that fails is a note of r.
func profileResult(ctx context.Context, s *bench.Session, r *report.Result, when string, serve bool, outDir string) {
	if !wantsProfile(when, r) || ctx.Err() != nil {
		return
	}
	stage, allStages := regressedStage(r)
	what := "the denoising steps"
	if allStages {
		what = "every stage"
	}
	s.Step(fmt.Sprintf("profiling one run a side (%s; not timed, no part of the verdict)", what))
	runs := s.Profile(ctx, allStages)
	var profs [2]*profile.Profile
	var notes []string
	for i, run := range runs {
		if run.Err != nil {
			notes = append(notes, "profile: "+strings.ReplaceAll(run.Err.Error(), filepath.Clean(outDir)+string(filepath.Separator), ""))
			continue
		}
		p, err := profile.ReadFile(run.Trace, profile.DefaultLimits)
		if err != nil {
			// The error names the file; by its name in the out folder, as
			// the report names files, not by the machine's path.
			msg := strings.ReplaceAll(err.Error(), filepath.Clean(outDir)+string(filepath.Separator), "")
			notes = append(notes, fmt.Sprintf("profile: the trace of %s is unusable: %s", run.Side, msg))
			continue
		}
		profs[i] = p
	}
	if profs[0] == nil || profs[1] == nil {
		r.Notes = append(r.Notes, notes...)
		r.Notes = append(r.Notes, "profile: no comparison of kernels (the verdict stands as measured)")
		return
	}
	d := profile.Compare(profs[0], profs[1], profile.KernelTable, ProfileRows)
	p := &report.Profile{
		Stage: stage, AllStages: allStages, Serve: serve,
		Base: report.ProfileSide{Trace: rel(outDir, runs[0].Trace), Steps: d.BaseSteps, Seconds: runs[0].Seconds},
		Head: report.ProfileSide{Trace: rel(outDir, runs[1].Trace), Steps: d.HeadSteps, Seconds: runs[1].Seconds},
		Rows: rows(d.Rows), Added: rows(d.Added), Gone: rows(d.Gone), Counts: map[string]int{},
		BaseUs: d.BaseUs, HeadUs: d.HeadUs, ChangeUs: d.ChangeUs, Notes: d.Notes,
	}
	for c, n := range d.Count {
		p.Counts[string(c)] = n
	}
	r.AttachProfile(p)
}

// regressedStage is the stage whose change chose what to profile: the
// regressed stage (by verdict, then by change) with the largest change of
// its median, or the one with the largest change when none regressed.
// allStages is false when that is the denoising stage, or no stage grew.
func regressedStage(r *report.Result) (stage string, allStages bool) {
	var best *report.Metric
	for i := range r.Metrics {
		m := &r.Metrics[i]
		if !strings.HasPrefix(m.ID, "stage:") || m.DeltaAbs <= 0 {
			continue
		}
		if best == nil || better(m, best) {
			best = m
		}
	}
	if best == nil {
		return "", false
	}
	allStages = !strings.Contains(strings.ToLower(best.Name), "denois")
	if best.Verdict == report.Regression {
		stage = best.Name
	}
	return stage, allStages
}

// better reports whether stage metric m beats b: a regression beats
// none, then the larger change wins.
func better(m, b *report.Metric) bool {
	if mr, br := m.Verdict == report.Regression, b.Verdict == report.Regression; mr != br {
		return mr
	}
	return m.DeltaAbs > b.DeltaAbs
}

func rows(in []profile.Row) []report.ProfileRow {
	out := make([]report.ProfileRow, 0, len(in))
	for _, r := range in {
		out = append(out, report.ProfileRow{Name: r.Name, Class: string(r.Class), BaseUs: r.BaseUs, ChangeUs: r.ChangeUs, HeadUs: r.HeadUs,
			Rel: r.Rel, BaseCalls: r.BaseCalls, HeadCalls: r.HeadCalls})
	}
	return out
}

// rel names path relative to the out folder, as the report names files.
func rel(outDir, path string) string {
	if r, err := filepath.Rel(outDir, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.Base(path)
}
