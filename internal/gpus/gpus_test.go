package gpus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// machine8 is the fixture machine: 8 H200s, NVLink pairs 0-1, 2-3, 4-5,
// 6-7, NODE within 0-3 and 4-7, SYS across.
func machine8(t testing.TB) ([]GPU, Topology) {
	t.Helper()
	inv, err := os.ReadFile("testdata/inventory-8.csv")
	if err != nil {
		t.Fatal(err)
	}
	gpus, err := ParseInventory(string(inv))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := os.ReadFile("testdata/topo-8.txt")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ParseTopology(string(topo))
	if err != nil {
		t.Fatal(err)
	}
	return gpus, tp
}

func indices(s Set) []int {
	out := make([]int, len(s))
	for i, g := range s {
		out[i] = g.Index
	}
	return out
}

func TestParseInventory(t *testing.T) {
	t.Parallel()
	gpus, _ := machine8(t)
	if len(gpus) != 8 || gpus[3].Index != 3 || gpus[3].Name != "NVIDIA H200" || gpus[3].MemoryMiB != 143771 || !strings.HasPrefix(gpus[3].UUID, "GPU-") || gpus[3].BusID != "00000000:48:00.0" {
		t.Fatalf("ParseInventory = %+v", gpus)
	}
	shuffled, err := ParseInventory("1, GPU-b, NVIDIA H100 80GB HBM3, [N/A], 00000000:02:00.0\n0, GPU-a, NVIDIA H100 80GB HBM3, 81559, 00000000:01:00.0\n")
	if err != nil || shuffled[0].UUID != "GPU-a" || shuffled[1].MemoryMiB != 0 {
		t.Fatalf("ParseInventory sorts by index and reads [N/A] memory as unknown: %+v, %v", shuffled, err)
	}
	for _, tt := range []struct{ name, out, want string }{
		{"empty", "", "no GPU"},
		{"fields", "0, GPU-a, NVIDIA H200\n", "line 1 has 3 fields"},
		{"index", "x, GPU-a, NVIDIA H200, 1, b\n", `index "x"`},
		{"twice", "0, GPU-a, H200, 1, b\n0, GPU-b, H200, 1, c\n", "line 2: index"},
		{"uuid", "0, $(reboot), H200, 1, b\n", "not a GPU UUID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseInventory(tt.out)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "nvidia-smi --query-gpu=") {
				t.Fatalf("ParseInventory(%q) = %v, want an error naming nvidia-smi and %q", tt.out, err, tt.want)
			}
		})
	}
}

func TestParseTopology(t *testing.T) {
	t.Parallel()
	_, topo := machine8(t)
	for _, tt := range []struct {
		a, b int
		want string
	}{{0, 1, "NV4"}, {1, 0, "NV4"}, {0, 2, "NODE"}, {3, 4, "SYS"}, {6, 7, "NV4"}, {0, 0, ""}, {0, 9, ""}} {
		if got := topo.Link(tt.a, tt.b); got != tt.want {
			t.Errorf("Link(%d, %d) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
	one, err := os.ReadFile("testdata/topo-1.txt")
	if err != nil {
		t.Fatal(err)
	}
	if single, err := ParseTopology(string(one)); err != nil || len(single.links) != 0 {
		t.Errorf("one GPU (as an H200 machine prints it): %v, %v", single.links, err)
	}
	for _, tt := range []struct{ name, out, want string }{
		{"no header", "Legend:\n X = Self\n", "no header row"},
		{"bad cell", "\tGPU0\tGPU1\tCPU Affinity\nGPU0\tX\tWARP9\t0-7\nGPU1\tWARP9\tX\t0-7\n", `GPU0 to GPU1 is "WARP9"`},
		{"short row", "\tGPU0\tGPU1\tCPU Affinity\nGPU0\tX\n", "has 1 links, want 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseTopology(tt.out); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseTopology = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSpecSelect(t *testing.T) {
	t.Parallel()
	gpus, _ := machine8(t)
	for _, tt := range []struct {
		spec string
		want []int
		err  string
	}{
		{"", []int{0, 1, 2, 3, 4, 5, 6, 7}, ""},
		{"all", []int{0, 1, 2, 3, 4, 5, 6, 7}, ""},
		{"2", []int{0, 1}, ""},
		{"0,1", []int{0, 1}, ""},
		{" 5 , 2-3 ", []int{2, 3, 5}, ""},
		{"9", nil, "9 GPUs asked for, the runner has 8"},
		{"0,9", nil, "GPU 9 asked for, the runner has 0-7"},
		{"0", nil, "not all, a count"},
		{"two", nil, "not all, a count"},
		{"1,1", nil, "names GPU 1 twice"},
		{"3-1", nil, "not a GPU index or a range"},
		{"0,-1", nil, "not a GPU index or a range"},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			s, err := ParseSpec(tt.spec)
			var got Set
			if err == nil {
				got, err = s.Select(gpus)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("gpus %q = %v, %v; want error %q", tt.spec, indices(got), err, tt.err)
				}
				return
			}
			if err != nil || !cmp.Equal(indices(got), tt.want) {
				t.Fatalf("gpus %q = %v, %v; want %v", tt.spec, indices(got), err, tt.want)
			}
		})
	}
}

// TestAcquirePrefersTheBestLinks: a pair goes to NVLink partners, four GPUs
// stay within a NUMA node, and with a GPU taken the next pair is still an
// NVLink pair rather than the lowest free indices.
func TestAcquirePrefersTheBestLinks(t *testing.T) {
	t.Parallel()
	gpus, topo := machine8(t)
	ctx := context.Background()
	p := NewPool(gpus, topo)
	one, _ := p.Acquire(ctx, 1)
	pair, _ := p.Acquire(ctx, 2)
	four, _ := p.Acquire(ctx, 4)
	if got := [][]int{indices(one), indices(pair), indices(four)}; !cmp.Equal(got, [][]int{{0}, {2, 3}, {4, 5, 6, 7}}) {
		t.Fatalf("sets %v, want [[0] [2 3] [4 5 6 7]]", got)
	}
	if d := topo.Describe(pair); d != "NV4" {
		t.Errorf("Describe(pair) = %q", d)
	}
	if d := topo.Describe(Set{gpus[0], gpus[1], gpus[4]}); d != "SYS to NV4" {
		t.Errorf("Describe(0,1,4) = %q", d)
	}
	if got := pair.Key(); got != "2x NVIDIA H200" {
		t.Errorf("Key = %q", got)
	}
	if got := pair.CUDAVisibleDevices(); got != gpus[2].UUID+","+gpus[3].UUID {
		t.Errorf("CUDAVisibleDevices = %q, want the UUIDs of 2 and 3", got)
	}
	if got := pair.Indices(); got != "2,3" {
		t.Errorf("Indices = %q", got)
	}
	// Without a topology, the lowest free indices.
	flat := NewPool(gpus, Topology{})
	s, _ := flat.Acquire(ctx, 3)
	if !cmp.Equal(indices(s), []int{0, 1, 2}) {
		t.Errorf("no topology: %v", indices(s))
	}
	if _, err := flat.Acquire(ctx, 9); err == nil {
		t.Error("a set larger than the pool was given")
	}
}

func TestAcquireEndsWithTheContext(t *testing.T) {
	t.Parallel()
	gpus, topo := machine8(t)
	p := NewPool(gpus, topo)
	all, err := p.Acquire(context.Background(), 8)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := p.Acquire(ctx, 1)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire on a full pool after cancel = %v", err)
	}
	p.Release(all)
	if s, err := p.Acquire(context.Background(), 8); err != nil || len(s) != 8 {
		t.Fatalf("after Release: %v, %v", indices(s), err)
	}
}

// TestRunPacksCasesOnDisjointSets runs a cases list of 1-, 2- and 4-GPU
// cases on the 8 GPUs: every case gets its own number of GPUs, no GPU is
// held by two running cases, and the two 4-GPU cases (started first) run
// at the same time: each waits for the other to start, so the test would
// hang if Run ran them one after the other.
func TestRunPacksCasesOnDisjointSets(t *testing.T) {
	t.Parallel()
	gpus, topo := machine8(t)
	p := NewPool(gpus, topo)
	need := []int{1, 4, 2, 1, 4, 2, 1, 2}
	var mu sync.Mutex
	holder := map[int]int{} // GPU index → case running on it
	got := make([]Set, len(need))
	var bothFours sync.WaitGroup
	bothFours.Add(2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Run(ctx, p, need, func(ctx context.Context, i int, s Set) error {
		mu.Lock()
		got[i] = s
		for _, g := range s {
			if j, ok := holder[g.Index]; ok {
				mu.Unlock()
				return fmt.Errorf("GPU %d given to case %d while case %d runs on it", g.Index, i, j)
			}
			holder[g.Index] = i
		}
		mu.Unlock()
		if need[i] == 4 {
			bothFours.Done()
			waited := make(chan struct{})
			go func() { bothFours.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-ctx.Done():
				return fmt.Errorf("case %d: the other 4-GPU case never started beside it", i)
			}
		}
		mu.Lock()
		for _, g := range s {
			delete(holder, g.Index)
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range got {
		if len(s) != need[i] {
			t.Errorf("case %d got %v, want %d GPUs", i, indices(s), need[i])
		}
	}
	if err := Run(ctx, p, []int{9}, func(context.Context, int, Set) error { return nil }); err == nil || !strings.Contains(err.Error(), "needs 9 GPUs, the runner has 8") {
		t.Errorf("a case too large for the runner: %v", err)
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	gpus, topo := machine8(t)
	for _, tt := range []struct {
		name  string
		need  []int
		dur   []float64
		end   float64
		start []float64
	}{
		{"all fit at once", []int{1, 2, 4, 1}, []float64{10, 10, 10, 10}, 10, []float64{0, 0, 0, 0}},
		{"two eights", []int{8, 8}, []float64{5, 7}, 12, []float64{0, 5}},
		{"large first", []int{1, 8, 1}, []float64{3, 5, 4}, 9, []float64{5, 0, 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sets, start, end, err := Schedule(gpus, topo, tt.need, tt.dur)
			if err != nil || end != tt.end || !cmp.Equal(start, tt.start) {
				t.Fatalf("Schedule = start %v end %v (%v); want %v, %v", start, end, err, tt.start, tt.end)
			}
			for i, s := range sets {
				if len(s) != tt.need[i] {
					t.Errorf("case %d: %v", i, indices(s))
				}
			}
		})
	}
	if _, _, _, err := Schedule(gpus, topo, []int{9}, []float64{1}); err == nil {
		t.Error("Schedule of a case larger than the runner")
	}
}

// BenchmarkPacking schedules random cases lists (1, 2 or 4 GPUs, 1-10
// units each) on 8 GPUs and reports the wall time in units, packed and
// one case at a time, and their ratio.
func BenchmarkPacking(b *testing.B) {
	gpus, topo := machine8(b)
	rng := rand.New(rand.NewPCG(1, 2))
	var packed, serial float64
	for b.Loop() {
		n := 4 + rng.IntN(9)
		need, dur := make([]int, n), make([]float64, n)
		for i := range need {
			need[i] = []int{1, 1, 2, 4}[rng.IntN(4)]
			dur[i] = float64(1 + rng.IntN(10))
			serial += dur[i]
		}
		_, _, end, err := Schedule(gpus, topo, need, dur)
		if err != nil {
			b.Fatal(err)
		}
		packed += end
	}
	b.ReportMetric(packed/float64(b.N), "units/list")
	b.ReportMetric(serial/float64(b.N), "serial-units/list")
	b.ReportMetric(serial/packed, "speedup")
}
