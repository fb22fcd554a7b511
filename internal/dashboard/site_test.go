package dashboard

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/diffperf/diffperf/internal/report"
)

// genSite is a site of cases × metrics × points whose metrics step up by
// stepPct at point cpAt (a confirmed change point there) and whose
// environment changes at point envAt. Seeded: the same arguments give the
// same site.
func genSite(cases, metrics, points, cpAt, envAt int, stepPct float64) Site {
	s := Site{
		Title:     "sglang diffusion perf",
		RepoURL:   "https://github.com/example/sglang",
		Generated: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	commits := make([]string, points)
	for i := range commits {
		sum := sha1.Sum(fmt.Appendf(nil, "commit %d", i))
		commits[i] = hex.EncodeToString(sum[:])
	}
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	names := []string{"E2E", "denoise step", "VAE decode", "peak memory"}
	units := []string{"ms", "ms", "ms", "MiB"}
	for c := range cases {
		cs := Case{
			Name: fmt.Sprintf("flux t2i %d", 512*(c+1)),
			Key:  fmt.Sprintf("flux-%d-h100", 512*(c+1)),
			GPU:  "NVIDIA H100 80GB HBM3", Mode: []string{"generate", "serve"}[c%2],
		}
		for mi := range metrics {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(mi)))
			base := 100.0 * float64(mi+1) * float64(c+1)
			m := Metric{Name: names[mi%len(names)], Unit: units[mi%len(units)]}
			var before, after []float64
			for i := range points {
				level := base
				if i >= cpAt {
					level *= 1 + stepPct/100
				}
				med := level * (1 + 0.004*rng.NormFloat64())
				spread := level * (0.003 + 0.004*rng.Float64())
				m.Points = append(m.Points, Point{
					Commit: commits[i], Subject: fmt.Sprintf("Change number %d", i),
					Time:   start.Add(time.Duration(i) * 7 * time.Hour),
					Median: med, Lo: med - spread, Hi: med + spread*1.2, N: 5,
				})
				if i < cpAt {
					before = append(before, med)
				} else {
					after = append(after, med)
				}
			}
			if cpAt >= 0 && cpAt < points {
				b, a := report.Median(before), report.Median(after)
				m.ChangePoints = []ChangePoint{{
					Index: cpAt, Commit: commits[cpAt], BeforeMedian: b, AfterMedian: a,
					ChangePct: (a/b - 1) * 100, P: 1e-6, Status: Confirmed,
					IssueURL: "https://github.com/example/sglang/issues/7",
				}}
			}
			if envAt >= 0 && envAt < points {
				m.EnvBreaks = []EnvBreak{{Index: envAt, Change: "driver 580.65 → 580.82"}}
			}
			cs.Metrics = append(cs.Metrics, m)
		}
		s.Cases = append(s.Cases, cs)
	}
	return s
}
