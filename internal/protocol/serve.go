package protocol

import (
	"github.com/diffperf/diffperf/internal/report"
)

// ServePlan is the plan of mode serve: a pair is one launch of each side's
// server (bench.Serve gives each launch its requests), so a batch is
// launches pairs, an unclear one earns extra launch pairs up to
// maxLaunches, and a confirming batch is made of fresh launches.
//
// Why launches, not requests, for both: report judges a metric on launch
// medians whenever the launches of a side may differ (report.LaunchPoolP), and
// then only another launch adds a sample; more requests from the same
// servers would only sharpen each launch's median. Where the launches do
// not differ, a new launch adds as many samples as its requests. And a
// confirming batch must be independent of the first: requests to the
// servers that showed the regression would share their launch offsets, so
// it starts new ones.
//
// maxLaunches 0 means the default: launches, or enough launches for a
// launch-level test to reach p < α if that is more (4 a side at α =
// 0.05), so that a measurement whose launches differ can still end in a
// verdict.
func ServePlan(launches, maxLaunches int, confirm bool, opt report.Options) Plan {
	if maxLaunches == 0 {
		maxLaunches = launches
		if opt.Alpha > 0 && opt.Alpha < 1 {
			maxLaunches = max(launches, report.RunsNeeded(opt.Alpha))
		}
	}
	return Plan{Runs: launches, MaxRuns: maxLaunches, Confirm: confirm, Options: opt, Serve: true}
}
