package fakesglang

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serve is `sglang serve`: it "loads the model" for load_ms, then answers
// sglang's HTTP API on --host (127.0.0.1) and --port until it is killed,
// or a test fault ends it.
func serve(w workload, b Behavior, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sglang serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model-path", "", "model")
	port := fs.Int("port", 30000, "HTTP port")
	host := fs.String("host", "127.0.0.1", "HTTP host")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	fmt.Fprintf(stdout, "fake sglang server: pid %d, model %s\n", os.Getpid(), *model)
	if b.Generate != nil {
		if code, stop := b.Generate(stdout, stderr); stop {
			return code
		}
	}
	time.Sleep(time.Duration(w.loadMs * float64(time.Millisecond)))
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		// uvicorn's words, which diffperf recognises as a taken port.
		fmt.Fprintf(stderr, "ERROR:    [Errno 98] error while attempting to bind on address (%q, %d): address already in use (%v)\n", *host, *port, err)
		return 1
	}
	h := NewServer(w, b, *model, launchID(os.Getenv, *port), stderr)
	// SIGTERM and Ctrl-C shut the server down at once, as uvicorn's
	// graceful shutdown does when no request is in flight. (Inside
	// `diffperf fake-sglang`, main catches them too, for its context.)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(term)
	go func() { _ = http.Serve(ln, h) }()
	fmt.Fprintln(stdout, "Application startup complete.")
	select {
	case code := <-h.quit:
		return code
	case <-term:
		fmt.Fprintln(stdout, "Shutting down")
		return 0
	}
}

// launchID names a launch for its offset: DIFFPERF_LAUNCH under diffperf
// (side, batch and launch number), else the port.
func launchID(getenv func(string) string, port int) string {
	if id := getenv("DIFFPERF_LAUNCH"); id != "" {
		return "launch=" + id
	}
	return fmt.Sprintf("port=%d", port)
}

// Server is the fake's HTTP API. It runs one request at a time, as one
// GPU would, and writes each request's dump to its perf_dump_path.
type Server struct {
	w        workload
	b        Behavior
	model    string
	launch   string
	stderr   io.Writer
	quit     chan int
	gpu      sync.Mutex // one request at a time
	mu       sync.Mutex // requests, jobs
	requests int
	jobs     map[string]*videoJob
	profDir  string // where profiled requests' traces go, fixed at start
	profiled int    // profiled requests, to name their traces
}

type videoJob struct {
	ID     string         `json:"id"`
	Object string         `json:"object"`
	Status string         `json:"status"`
	Model  string         `json:"model"`
	Error  map[string]any `json:"error,omitempty"`
}

// NewServer is the API of a server of model whose launch is named launch
// (its offset's seed), with the workload and test behaviour given.
func NewServer(w workload, b Behavior, model, launch string, stderr io.Writer) *Server {
	return &Server{w: w, b: b, model: model, launch: launch, stderr: stderr, quit: make(chan int, 1), jobs: map[string]*videoJob{},
		profDir: profileDir(os.Getenv)}
}

// request is the JSON body of a generation request: what the fake uses.
type request struct {
	Prompt       string `json:"prompt"`
	Model        string `json:"model"`
	PerfDumpPath string `json:"perf_dump_path"`
	Steps        *int   `json:"num_inference_steps"`
	Seed         int64  `json:"seed"`
	// sglang's profiling fields: a trace of this request (see trace.go).
	Profile          bool `json:"profile"`
	ProfiledSteps    *int `json:"num_profiled_timesteps"`
	ProfileAllStages bool `json:"profile_all_stages"`
}

func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/health":
		if s.b.Healthy != nil && !s.b.Healthy() {
			http.Error(rw, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(rw, "OK")
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		writeJSON(rw, http.StatusOK, map[string]any{"object": "list", "data": []map[string]string{{"id": s.model, "object": "model"}}})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/images/generations":
		req, ok := s.accept(rw, r)
		if !ok {
			return
		}
		d, err := s.generate(req)
		if err != nil {
			writeJSON(rw, http.StatusInternalServerError, map[string]any{"error": map[string]string{"message": err.Error()}})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"id": "img", "created": time.Now().Unix(),
			"data":             []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString([]byte("fake png"))}},
			"inference_time_s": d.TotalDurationMs / 1000})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/videos":
		req, ok := s.accept(rw, r)
		if !ok {
			return
		}
		s.mu.Lock()
		job := &videoJob{ID: fmt.Sprintf("video_%d", len(s.jobs)+1), Object: "video", Status: "queued", Model: req.Model}
		s.jobs[job.ID] = job
		answer := *job
		s.mu.Unlock()
		go func() {
			_, err := s.generate(req)
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				job.Status, job.Error = "failed", map[string]any{"message": err.Error()}
				return
			}
			job.Status = "completed"
		}()
		writeJSON(rw, http.StatusOK, answer)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/videos/"):
		s.mu.Lock()
		job, ok := s.jobs[strings.TrimPrefix(r.URL.Path, "/v1/videos/")]
		var answer videoJob
		if ok {
			answer = *job
		}
		s.mu.Unlock()
		if !ok {
			writeJSON(rw, http.StatusNotFound, map[string]any{"detail": "Video not found"})
			return
		}
		writeJSON(rw, http.StatusOK, answer)
	default:
		http.NotFound(rw, r)
	}
}

// accept reads a generation request, counts it and lets the test
// behaviour act on it; ok is false when it has been answered (or the
// server is going down).
func (s *Server) accept(rw http.ResponseWriter, r *http.Request) (request, bool) {
	var req request
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(rw, http.StatusBadRequest, map[string]any{"detail": "Invalid request body: " + err.Error()})
		return req, false
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.mu.Unlock()
	if s.b.Request != nil {
		if status, exit, code := s.b.Request(n, s.stderr); exit {
			s.quit <- code
			select {} // the process ends under us, without an answer
		} else if status != 0 {
			writeJSON(rw, status, map[string]any{"error": map[string]string{"message": fmt.Sprintf("fake failure of request %d", n)}})
			return req, false
		}
	}
	return req, true
}

// generate runs one request on the "GPU": the told durations, with the
// request's noise and the launch's offset, slept to look real and written
// to the request's perf_dump_path.
func (s *Server) generate(req request) (dump, error) {
	s.gpu.Lock()
	defer s.gpu.Unlock()
	w := s.w
	steps := w.steps
	if req.Steps != nil && *req.Steps >= 0 {
		steps = *req.Steps
	}
	if w.confirmStepMs > 0 && strings.HasPrefix(filepath.Base(req.PerfDumpPath), "confirm-") {
		w.stepMs = w.confirmStepMs
	}
	id := fmt.Sprintf("%s\x00dump=%s\x00seed=%d", s.launch, filepath.Base(req.PerfDumpPath), req.Seed)
	d := simulate(w, steps, id)
	d.scale(1 + w.launchJitter*noise("offset\x00"+s.launch, 0))
	d.Tag, d.RequestID = "server_perf_dump", "fake-request"
	d.Meta = map[string]string{"model": s.model}
	if d.CommitHash = os.Getenv("SGLANG_GIT_COMMIT"); d.CommitHash == "" {
		d.CommitHash = "N/A"
	}
	time.Sleep(time.Duration(d.TotalDurationMs * w.sleepScale * float64(time.Millisecond)))
	d.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
	if req.Profile {
		p := profileFlags{on: true, steps: 5, allStages: req.ProfileAllStages}
		if req.ProfiledSteps != nil {
			p.steps = *req.ProfiledSteps
		}
		s.profiled++
		if _, err := writeTrace(s.profDir, fmt.Sprintf("fake-request-%d", s.profiled), w, d, p); err != nil {
			return d, fmt.Errorf("profiler: %w", err)
		}
	}
	if req.PerfDumpPath == "" {
		return d, nil // sglang collects timings only with perf_dump_path
	}
	j, _ := json.MarshalIndent(d, "", "  ")
	if s.b.WriteDump != nil {
		if code, done := s.b.WriteDump(req.PerfDumpPath, j, s.stderr); done {
			if code != 0 {
				return d, fmt.Errorf("could not write the dump")
			}
			return d, nil
		}
	}
	if writeFile(req.PerfDumpPath, j, s.stderr) != 0 {
		return d, fmt.Errorf("could not write %s", req.PerfDumpPath)
	}
	return d, nil
}

// scale multiplies every duration of the dump by f.
func (d *dump) scale(f float64) {
	d.TotalDurationMs = 0
	for i := range d.Steps {
		d.Steps[i].DurationMs *= f
		d.TotalDurationMs += d.Steps[i].DurationMs
	}
	for i := range d.DenoiseStepsMs {
		d.DenoiseStepsMs[i].DurationMs *= f
	}
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
