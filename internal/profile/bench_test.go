package profile

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// writeBigTrace writes a gzipped trace of at least size bytes of JSON to
// path, in the torch profiler's layout: steps, CPU ops with shapes and
// stacks, runtime calls and kernels with long templated names, 2,000 of
// them distinct. It returns the uncompressed size.
func writeBigTrace(path string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	cw := &countWriter{w: zw}
	fmt.Fprint(cw, `{"schemaVersion":1,"deviceProperties":[{"id":0,"name":"GPU"}],"traceEvents":[`)
	ts := 1e6
	for i, step := 0, 1; cw.n < size; i++ {
		if i%4000 == 0 {
			fmt.Fprintf(cw, `{"ph":"X","cat":"user_annotation","name":"ProfilerStep#%d","pid":1,"tid":1,"ts":%.3f,"dur":50000.0},`, step, ts)
			step++
		}
		k := i % 2000
		fmt.Fprintf(cw, `{"ph":"X","cat":"cpu_op","name":"aten::op_%d","pid":1,"tid":1,"ts":%.3f,"dur":12.5,"args":{"External id":%d,"Input Dims":[[1,4096,2048],[2048,6144]],"Input type":["c10::BFloat16","c10::BFloat16"],"Sequence number":%d}},`, k%300, ts, i, i)
		fmt.Fprintf(cw, `{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":1,"ts":%.3f,"dur":4.2,"args":{"correlation":%d}},`, ts+1, i)
		fmt.Fprintf(cw, `{"ph":"X","cat":"kernel","name":"void at::native::vectorized_elementwise_kernel_%d<4, at::native::CUDAFunctor_add<c10::BFloat16>, std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, std::array<char*, 3ul>)","pid":0,"tid":7,"ts":%.3f,"dur":%.3f,"args":{"queued":0,"device":0,"stream":7,"correlation":%d,"registers per thread":32,"grid":[4096,1,1],"block":[128,1,1]}},`, k, ts+5, float64(10+k%50), i)
		ts += 60
	}
	fmt.Fprint(cw, `{"ph":"M","name":"process_name","pid":0,"args":{"name":"GPU 0"}}],"traceName":"bench"}`)
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return cw.n, bw.Flush()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// BenchmarkReadTrace200MB reads a trace of 200 MB of JSON (about 40 MB
// gzipped) and reports the time, the rate of uncompressed bytes and the
// peak of the live heap while it reads, sampled every millisecond. -short
// skips it: writing the trace alone takes seconds.
func BenchmarkReadTrace200MB(b *testing.B) {
	if testing.Short() {
		b.Skip("writes and reads a 200 MB trace")
	}
	path := filepath.Join(b.TempDir(), "big-5_steps-global-rank0.trace.json.gz")
	size, err := writeBigTrace(path, 200<<20)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	peak := uint64(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	b.ResetTimer()
	var p *Profile
	for range b.N {
		if p, err = ReadFile(path, DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	if len(p.Kernels) != 2000 || p.Steps < 2 {
		b.Fatalf("%d kernels in %d steps, want 2000 kernels", len(p.Kernels), p.Steps)
	}
	b.ReportMetric(float64(peak-min(peak, before))/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(size)/(1<<20), "trace-MB")
	b.ReportMetric(float64(p.Events), "events")
}
