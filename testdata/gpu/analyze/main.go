// Command analyze turns the trial folders of testdata/gpu/trials.sh into the
// table of docs/benchmarks.md: diffperf's verdict per trial, and what the
// single-run rule of compare_perf.py (±2 % on one base/head pair) would have
// said on the same dumps; then GPU time per trial and per sample in each
// mode (generate: a process per run; serve: warm servers), and a summary
// per mode, workload and plant.
//
//	go run ./testdata/gpu/analyze CHUNK_DIR...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type result struct {
	Verdict string `json:"verdict"`
	Base    struct {
		Runs []struct {
			Index int     `json:"index"`
			E2E   float64 `json:"e2e_ms"`
		} `json:"runs"`
	} `json:"base"`
	Head struct {
		Runs []struct {
			Index int     `json:"index"`
			E2E   float64 `json:"e2e_ms"`
		} `json:"runs"`
	} `json:"head"`
	Metrics []struct {
		ID       string  `json:"id"`
		DeltaPct float64 `json:"delta_pct"`
		P        float64 `json:"p"`
		Samples  string  `json:"samples"`
		Base     struct {
			Median float64 `json:"median"`
		} `json:"base"`
	} `json:"metrics"`
	Launches []struct {
		Side string `json:"side"`
	} `json:"launches"`
	Environment struct {
		Before []map[string]string `json:"before"`
		After  []map[string]string `json:"after"`
	} `json:"environment"`
	Confirmation *result `json:"confirmation"`
}

func e2e(r *result) (pct, p, base float64) {
	for _, m := range r.Metrics {
		if m.ID == "e2e" {
			return m.DeltaPct, m.P, m.Base.Median
		}
	}
	return 0, 1, 0
}

// singleRun is compare_perf.py's E2E status for one pair.
func singleRun(b, h float64) string {
	pct := (h - b) / b * 100
	switch {
	case pct > 2:
		return "❌"
	case pct < -2:
		return "✅"
	}
	return "⚪️"
}

func main() {
	walls := map[string]string{}
	var dirs []string
	for _, chunk := range os.Args[1:] {
		if f, err := os.Open(filepath.Join(chunk, "trials.tsv")); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				c := strings.Split(sc.Text(), "\t")
				if len(c) >= 10 && c[0] != "n" {
					walls[fmt.Sprintf("%s/%02s", chunk, c[0])] = c[9]
				}
			}
			f.Close()
		}
		m, _ := filepath.Glob(filepath.Join(chunk, "trials", "*"))
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	var times []gpuTime
	fmt.Println("| trial | planted | verdict | e2e change | p | runs a side | confirmation | wall (s) | single-run rule, first pair | single-run rule, all pairs ❌ |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "result.json"))
		if err != nil {
			fmt.Fprintln(os.Stderr, d, err)
			continue
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintln(os.Stderr, d, err)
			continue
		}
		name := filepath.Base(d)
		parts := strings.SplitN(name, "-", 3)
		pct, p, _ := e2e(&r)
		conf := "-"
		if r.Confirmation != nil {
			cp, cpv, _ := e2e(r.Confirmation)
			conf = fmt.Sprintf("%s (%+.1f%%, p=%.3f)", r.Confirmation.Verdict, cp, cpv)
		}
		pairs, flagged := 0, 0
		first := "-"
		for i := 0; i < len(r.Base.Runs) && i < len(r.Head.Runs); i++ {
			s := singleRun(r.Base.Runs[i].E2E, r.Head.Runs[i].E2E)
			if i == 0 {
				first = fmt.Sprintf("%s (%+.1f%%)", s, (r.Head.Runs[0].E2E-r.Base.Runs[0].E2E)/r.Base.Runs[0].E2E*100)
			}
			pairs++
			if s == "❌" {
				flagged++
			}
		}
		chunk := filepath.Dir(filepath.Dir(d))
		times = append(times, timeOf(&r, filepath.Base(chunk)+"/"+parts[0], parts[1], parts[2], walls[fmt.Sprintf("%s/%s", chunk, parts[0])]))
		fmt.Printf("| %s/%s | %s %s%% | %s | %+.2f%% | %.3f | %d+%d | %s | %s | %s | %d of %d |\n",
			filepath.Base(chunk), parts[0], parts[1], parts[2], r.Verdict, pct, p, len(r.Base.Runs), len(r.Head.Runs), conf,
			walls[fmt.Sprintf("%s/%s", chunk, parts[0])], first, flagged, pairs)
	}
	printTimes(times)
	// The machine, from the first trial.
	if len(dirs) > 0 {
		b, _ := os.ReadFile(filepath.Join(dirs[0], "result.json"))
		var r result
		if json.Unmarshal(b, &r) == nil && len(r.Environment.Before) > 0 {
			g := r.Environment.Before[0]
			fmt.Printf("\nGPU: %s, driver %s\n", g["name"], g["driver"])
		}
	}
}

// gpuTime is what one trial cost and decided.
type gpuTime struct {
	trial, mode, workload, planted, verdict, samplesOf string
	launches, samples                                  int
	wall                                               float64
}

// timeOf reads a trial's cost: its wall time (the GPU's time, as nothing
// else ran), the dumps it measured (both sides, both batches) and the
// launches of a side in its first batch.
func timeOf(r *result, trial, workload, planted, wall string) gpuTime {
	t := gpuTime{trial: trial, mode: "generate", workload: workload, planted: planted, verdict: r.Verdict, samplesOf: "runs"}
	if w, ok := strings.CutPrefix(workload, "serve_"); ok {
		t.mode, t.workload = "serve", w
	}
	for _, x := range []*result{r, r.Confirmation} {
		if x != nil {
			t.samples += len(x.Base.Runs) + len(x.Head.Runs)
		}
	}
	for _, l := range r.Launches {
		if l.Side == "base" {
			t.launches++
		}
	}
	for _, m := range r.Metrics {
		if m.ID == "e2e" && m.Samples != "" {
			t.samplesOf = m.Samples
		}
	}
	fmt.Sscan(wall, &t.wall)
	return t
}

// printTimes prints the GPU time of each trial, then a summary per mode,
// workload and plant: trials, verdicts, wall time per verdict and per
// sample.
func printTimes(times []gpuTime) {
	fmt.Println()
	fmt.Println("| trial | mode | planted | verdict | e2e judged on | launches a side | samples (all batches) | wall (s) | s per sample |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	type key struct{ mode, workload, planted string }
	type sum struct {
		trials, samples int
		wall            float64
		verdicts        map[string]int
	}
	sums := map[key]*sum{}
	var keys []key
	for _, t := range times {
		launches := "-"
		if t.mode == "serve" {
			launches = fmt.Sprint(t.launches)
		}
		fmt.Printf("| %s | %s | %s %s%% | %s | %s | %s | %d | %.0f | %.2f |\n", t.trial, t.mode, t.workload, t.planted, t.verdict,
			t.samplesOf, launches, t.samples, t.wall, t.wall/float64(max(t.samples, 1)))
		k := key{t.mode, t.workload, t.planted}
		if sums[k] == nil {
			sums[k] = &sum{verdicts: map[string]int{}}
			keys = append(keys, k)
		}
		s := sums[k]
		s.trials, s.samples, s.wall = s.trials+1, s.samples+t.samples, s.wall+t.wall
		s.verdicts[t.verdict]++
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.workload != b.workload {
			return a.workload < b.workload
		}
		if a.planted != b.planted {
			return a.planted < b.planted
		}
		return a.mode < b.mode
	})
	fmt.Println()
	fmt.Println("| workload | planted | mode | trials | regression / inconclusive / no-change / other | wall per verdict (s) | s per sample |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	for _, k := range keys {
		s := sums[k]
		other := s.trials - s.verdicts["regression"] - s.verdicts["inconclusive"] - s.verdicts["no-change"]
		fmt.Printf("| %s | %s%% | %s | %d | %d / %d / %d / %d | %.0f | %.2f |\n", k.workload, k.planted, k.mode, s.trials,
			s.verdicts["regression"], s.verdicts["inconclusive"], s.verdicts["no-change"], other, s.wall/float64(s.trials), s.wall/float64(max(s.samples, 1)))
	}
}
