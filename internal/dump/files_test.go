package dump

import "testing"

// TestRunFileRoundTrip: every run file name diffperf writes reads back as
// the batch, side and number it was written for, and the other files of an
// out folder (logs, launches, warm-ups, other sides) are not runs.
func TestRunFileRoundTrip(t *testing.T) {
	t.Parallel()
	for _, batch := range []string{"", "confirm"} {
		for _, side := range []string{"base", "head", "bench"} {
			for _, n := range []int{1, 9, 10, 123} {
				name := RunName(batch, side, n) + ".json"
				b, s, got, ok := ParseRunFile(name)
				if !ok || b != batch || s != side || got != n {
					t.Errorf("ParseRunFile(%q) = %q, %q, %d, %v; want %q, %q, %d", name, b, s, got, ok, batch, side, n)
				}
			}
		}
	}
	for _, name := range []string{
		RunName("", "base", 1) + ".log",
		LaunchName("confirm", "head", 2) + ".log",
		WarmupName("", "base", 1, 1) + ".json",
		RunName("", "c2", 1) + ".json",
		RunName("step1", "base", 1) + ".json",
		"result.json",
	} {
		if _, _, _, ok := ParseRunFile(name); ok {
			t.Errorf("ParseRunFile(%q) took it for a run's dump", name)
		}
	}
	if got, want := RunName("confirm", "head", 3), "confirm-head-03"; got != want {
		t.Errorf("RunName = %q, want %q", got, want)
	}
}
