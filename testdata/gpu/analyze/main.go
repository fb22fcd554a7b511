// Command analyze turns the trial folders of testdata/gpu/trials.sh into the
// table of docs/benchmarks.md: diffperf's verdict per trial, and what the
// single-run rule of compare_perf.py (±2 % on one base/head pair) would have
// said on the same dumps.
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
		Base     struct {
			Median float64 `json:"median"`
		} `json:"base"`
	} `json:"metrics"`
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
		fmt.Printf("| %s/%s | %s %s%% | %s | %+.2f%% | %.3f | %d+%d | %s | %s | %s | %d of %d |\n",
			filepath.Base(chunk), parts[0], parts[1], parts[2], r.Verdict, pct, p, len(r.Base.Runs), len(r.Head.Runs), conf,
			walls[fmt.Sprintf("%s/%s", chunk, parts[0])], first, flagged, pairs)
	}
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
