package gpus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Pool hands out disjoint sets of its GPUs. A set is held until Release:
// no GPU is in two sets at once.
type Pool struct {
	gpus []GPU
	topo Topology

	mu      sync.Mutex
	busy    map[int]bool  // by index
	changed chan struct{} // closed and replaced on every Release
}

// NewPool makes a pool of gpus, connected as topo says (the zero Topology
// when unknown: sets are then the lowest free indices).
func NewPool(gpus []GPU, topo Topology) *Pool {
	return &Pool{gpus: slices.Clone(gpus), topo: topo, busy: map[int]bool{}, changed: make(chan struct{})}
}

// Size is the number of GPUs in the pool.
func (p *Pool) Size() int { return len(p.gpus) }

// Acquire waits until n GPUs are free and returns them as a set: the best
// connected n of the free ones (see choose). It fails at once when n is
// not between 1 and Size, and when ctx ends. Callers that want the sets in
// a fixed order acquire from one goroutine, in that order (Run does).
func (p *Pool) Acquire(ctx context.Context, n int) (Set, error) {
	if n < 1 || n > len(p.gpus) {
		return nil, fmt.Errorf("%d GPUs asked for, the pool has %d", n, len(p.gpus))
	}
	for {
		p.mu.Lock()
		var free []GPU
		for _, g := range p.gpus {
			if !p.busy[g.Index] {
				free = append(free, g)
			}
		}
		if len(free) >= n {
			s := choose(free, n, p.topo)
			for _, g := range s {
				p.busy[g.Index] = true
			}
			p.mu.Unlock()
			return s, nil
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Release gives the set's GPUs back to the pool.
func (p *Pool) Release(s Set) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range s {
		delete(p.busy, g.Index)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// maxCandidates bounds the sets choose compares exhaustively; above it
// (16 GPUs, sets of 8) it grows a set greedily from its best pair.
const maxCandidates = 20000

// choose picks n of free (in index order, len(free) >= n): the set whose
// worst link is best, then whose links sum highest, then the lowest
// indices. Deterministic.
func choose(free []GPU, n int, topo Topology) Set {
	if n == len(free) || len(topo.links) == 0 {
		return Set(slices.Clone(free[:n]))
	}
	if binomial(len(free), n) > maxCandidates {
		return greedy(free, n, topo)
	}
	var best []GPU
	bw, bs := -1, -1
	pick := make([]int, n)
	var walk func(k, from int)
	walk = func(k, from int) {
		if k == n {
			s := make([]GPU, n)
			for i, j := range pick {
				s[i] = free[j]
			}
			if w, sum := topo.score(s); w > bw || (w == bw && sum > bs) {
				best, bw, bs = s, w, sum
			}
			return
		}
		for j := from; j <= len(free)-(n-k); j++ {
			pick[k] = j
			walk(k+1, j+1)
		}
	}
	walk(0, 0)
	return Set(best)
}

// greedy grows a set from the lowest free GPU, adding each time the GPU
// that keeps the set's score highest.
func greedy(free []GPU, n int, topo Topology) Set {
	s := []GPU{free[0]}
	rest := slices.Clone(free[1:])
	for len(s) < n {
		bi, bw, bs := 0, -1, -1
		for i, g := range rest {
			if w, sum := topo.score(append(slices.Clone(s), g)); w > bw || (w == bw && sum > bs) {
				bi, bw, bs = i, w, sum
			}
		}
		s = append(s, rest[bi])
		rest = slices.Delete(rest, bi, bi+1)
	}
	slices.SortFunc(s, func(a, b GPU) int { return a.Index - b.Index })
	return Set(s)
}

func binomial(n, k int) int {
	r := 1
	for i := 1; i <= k; i++ {
		r = r * (n - k + i) / i
		if r > maxCandidates {
			return r
		}
	}
	return r
}

// Order is the order Run starts cases in: the most GPUs first, ties in the
// order given, so that a large case does not wait behind many small ones.
func Order(need []int) []int {
	order := make([]int, len(need))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(need[b], need[a]) })
	return order
}

// Run runs one function per case, case i on a set of need[i] GPUs of the
// pool, as many at once as the pool holds: cases start in Order, each as
// soon as its set is free, and each set is released when its function
// returns. It returns when every started case has returned; the errors
// are joined. When ctx ends, cases not yet started are not started. A
// case that needs more GPUs than the pool has fails without running.
func Run(ctx context.Context, p *Pool, need []int, fn func(ctx context.Context, i int, s Set) error) error {
	errs := make([]error, len(need))
	var wg sync.WaitGroup
	for _, i := range Order(need) {
		if need[i] > p.Size() {
			errs[i] = fmt.Errorf("case %d needs %d GPUs, the runner has %d", i+1, need[i], p.Size())
			continue
		}
		s, err := p.Acquire(ctx, need[i])
		if err != nil {
			errs[i] = err
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Release(s)
			errs[i] = fn(ctx, i, s)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Schedule is Run on a clock of its own: case i takes dur[i] units on
// need[i] GPUs of gpus. It returns each case's set and start and the time
// when the last one ends, so that a packing can be judged without running
// anything (the benchmark against one case at a time uses it).
func Schedule(gpus []GPU, topo Topology, need []int, dur []float64) (sets []Set, start []float64, end float64, err error) {
	if len(need) != len(dur) {
		return nil, nil, 0, fmt.Errorf("%d cases but %d durations", len(need), len(dur))
	}
	type job struct {
		i   int
		end float64
		set Set
	}
	sets, start = make([]Set, len(need)), make([]float64, len(need))
	busy := map[int]bool{}
	var running []job
	now := 0.0
	for _, i := range Order(need) {
		if need[i] < 1 || need[i] > len(gpus) {
			return nil, nil, 0, fmt.Errorf("case %d needs %d GPUs, the runner has %d", i+1, need[i], len(gpus))
		}
		for {
			var free []GPU
			for _, g := range gpus {
				if !busy[g.Index] {
					free = append(free, g)
				}
			}
			if len(free) >= need[i] {
				s := choose(free, need[i], topo)
				for _, g := range s {
					busy[g.Index] = true
				}
				sets[i], start[i] = s, now
				running = append(running, job{i, now + dur[i], s})
				end = max(end, now+dur[i])
				break
			}
			// Wait for the next case to end.
			slices.SortStableFunc(running, func(a, b job) int { return cmp.Compare(a.end, b.end) })
			next := running[0]
			running = running[1:]
			now = max(now, next.end)
			for _, g := range next.set {
				delete(busy, g.Index)
			}
		}
	}
	return sets, start, end, nil
}
