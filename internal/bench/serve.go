package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/diffperf/diffperf/internal/dump"
	"github.com/diffperf/diffperf/internal/input"
)

// Endpoints of mode serve: what each request asks the server for.
const (
	// EndpointImages is POST /v1/images/generations.
	EndpointImages = "images"
	// EndpointVideos is POST /v1/videos, then GET /v1/videos/{id} until
	// the job is completed or failed.
	EndpointVideos = "videos"
)

// Whether both sides' servers are up at once (Serve.Together).
const (
	// TogetherAuto keeps both up when, after the first server is healthy,
	// nvidia-smi shows room for a second of its size; without nvidia-smi,
	// one at a time. A second server that exits while starting (out of
	// memory) sends the measurement back to one at a time.
	TogetherAuto = "auto"
	// TogetherYes always starts both; TogetherNo never does.
	TogetherYes = "yes"
	TogetherNo  = "no"
)

// defaultDumpWait is how long a request's dump may take to appear after
// the server answered: sglang writes it just after the response, and its
// own nightly runner waits up to 10 s.
const defaultDumpWait = 10 * time.Second

// Serve is what mode serve adds to a Spec: per side, a server started from
// the side's worktree with the serve command, and requests sent to it over
// HTTP on 127.0.0.1. Each measured request's dump is one sample; the
// launches, their order and their requests are measured here, and what
// they mean is package report's business (see report.LaunchPoolP).
type Serve struct {
	// Template is the server command (ParseServeTemplate).
	Template *Template
	// Endpoint is EndpointImages (the default) or EndpointVideos.
	Endpoint string
	// Request holds fields added to every request's JSON body, identical
	// on both sides (input request; see ParseRequestFields).
	Request map[string]json.RawMessage
	// Requests is the number of measured requests of each launch, after
	// Warmup requests whose dumps are discarded.
	Requests, Warmup int
	// Together is TogetherAuto ("" too), TogetherYes or TogetherNo.
	Together string
	// DumpWait bounds the wait for a request's dump after the answer; 0
	// means 10 s (defaultDumpWait).
	DumpWait time.Duration
}

func (s *Serve) validate() error {
	switch {
	case s.Template == nil:
		return input.Errorf("serve-command", "no template")
	case s.Endpoint != EndpointImages && s.Endpoint != EndpointVideos:
		return input.Errorf("endpoint", "%q is neither images nor videos", s.Endpoint)
	case s.Requests < 1:
		return input.Errorf("requests", "%d is not a positive count", s.Requests)
	case s.Warmup < 0:
		return input.Errorf("warmup-requests", "%d is negative", s.Warmup)
	}
	switch s.Together {
	case "", TogetherAuto, TogetherYes, TogetherNo:
		return nil
	}
	return input.Errorf("together", "%q is not auto, yes or no", s.Together)
}

// reservedFields are the request fields diffperf sets itself.
var reservedFields = []string{"model", "perf_dump_path", "prompt"}

// ParseRequestFields reads input request: a JSON object whose fields go
// into every request's body (size, num_inference_steps, seed, ...). It
// may not set prompt, model or perf_dump_path, which diffperf sets. ""
// is no fields.
func ParseRequestFields(s string) (map[string]json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	if strings.TrimSpace(s) == "" {
		return fields, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, input.Errorf("request", "%q is not a JSON object such as {\"size\": \"1024x1024\", \"seed\": 42}", s)
	}
	if dec.More() {
		return nil, input.Errorf("request", "%q has more after its JSON object", s)
	}
	for _, k := range reservedFields {
		if _, ok := fields[k]; ok {
			return nil, input.Errorf("request", "%s is set by diffperf (the prompt, the model, each request's dump); leave it out", k)
		}
	}
	return fields, nil
}

// serving is the state of mode serve in a runner.
type serving struct {
	*Serve
	client *http.Client
	// launched counts each side's launches by batch.
	launched map[string]int
	// together is nil until the first pair decided it.
	together *bool
}

func newServing(s *Serve) *serving {
	if s.Endpoint == "" {
		s.Endpoint = EndpointImages
	}
	if s.DumpWait == 0 {
		s.DumpWait = defaultDumpWait
	}
	return &serving{Serve: s, client: localClient(), launched: map[string]int{}}
}

// servePair takes one balanced pair of launches of batch: base then head
// when the batch has an even number of pairs so far, head then base
// otherwise. With both servers up at once their measured requests
// alternate in the same balanced order; else one launch runs after the
// other. A failure ends the pair; every server it started is stopped.
func (m *runner) servePair(ctx context.Context, sides [2]*side, batch string) *dump.Failure {
	first, second := sides[0], sides[1]
	if m.serve.launched[key(first, batch)]%2 == 1 {
		first, second = second, first
	}
	if m.serve.Together == TogetherNo || (m.serve.together != nil && !*m.serve.together) {
		return m.serveApart(ctx, []*side{first, second}, batch)
	}
	return m.serveTogether(ctx, first, second, batch)
}

func key(sd *side, batch string) string { return batch + "/" + sd.name }

// serveApart runs one launch of each side after the other.
func (m *runner) serveApart(ctx context.Context, sides []*side, batch string) *dump.Failure {
	for _, sd := range sides {
		srv, lf := m.launch(ctx, sd, batch)
		if lf != nil {
			return lf.Failure
		}
		if f := m.serveAlone(ctx, srv); f != nil {
			return f
		}
	}
	return nil
}

// serveAlone takes the requests of one launch and stops it.
func (m *runner) serveAlone(ctx context.Context, srv *server) *dump.Failure {
	f := m.requests(ctx, []*server{srv})
	if sf := m.stop(srv); f == nil {
		f = sf
	}
	return f
}

// serveTogether runs both launches of a pair at once. Until a pair has
// decided it (TogetherAuto), the first server's GPU memory tells whether a
// second fits; when it does not, or the second server exits while
// starting (out of memory), the pair goes on one server at a time with
// the first server already up, and so does the rest of the measurement.
func (m *runner) serveTogether(ctx context.Context, first, second *side, batch string) (f *dump.Failure) {
	deciding := m.serve.together == nil && m.serve.Together != TogetherYes
	var before []gpuMemory
	if deciding {
		var note string
		if before, note = readGPUMemory(ctx, m.env); before == nil {
			m.decideTogether(false, "one server at a time: "+note)
			return m.serveApart(ctx, []*side{first, second}, batch)
		}
	}
	a, lf := m.launch(ctx, first, batch)
	if lf != nil {
		return lf.Failure
	}
	if deciding {
		after, note := readGPUMemory(ctx, m.env)
		fits, why := false, "one server at a time: "+note
		if after != nil {
			fits, why = fitsTwice(before, after)
		}
		m.decideTogether(fits, why)
		if !fits {
			if f := m.serveAlone(ctx, a); f != nil {
				return f
			}
			return m.serveApart(ctx, []*side{second}, batch)
		}
	}
	b, lf := m.launch(ctx, second, batch)
	if lf != nil {
		if m.serve.Together == TogetherYes || !lf.exitedStarting {
			m.stop(a)
			return lf.Failure
		}
		m.serve.launched[key(second, batch)]--
		m.decideTogether(false, fmt.Sprintf("one server at a time from here: the second server exited while the first was up (%s)", lf.Reason))
		if f := m.serveAlone(ctx, a); f != nil {
			return f
		}
		return m.serveApart(ctx, []*side{second}, batch)
	}
	f = m.requests(ctx, []*server{a, b})
	for _, srv := range []*server{a, b} {
		if sf := m.stop(srv); f == nil {
			f = sf
		}
	}
	return f
}

// decideTogether records, once, whether both servers stay up.
func (m *runner) decideTogether(together bool, why string) {
	m.serve.together = &together
	m.progress.Step(why)
}

// requests sends each server its warm-up requests, then the measured
// ones; with two servers, the measured requests alternate in balanced
// order (a b b a a b ...).
func (m *runner) requests(ctx context.Context, servers []*server) *dump.Failure {
	for _, srv := range servers {
		for range m.serve.Warmup {
			if _, f := m.request(ctx, srv, false); f != nil {
				return f
			}
		}
	}
	for i := range m.serve.Requests {
		order := servers
		if i%2 == 1 {
			order = slices.Clone(servers)
			slices.Reverse(order)
		}
		for _, srv := range order {
			if _, f := m.request(ctx, srv, true); f != nil {
				return f
			}
		}
	}
	return nil
}

// gpuMemory is one GPU's memory in MiB, as nvidia-smi reports it.
type gpuMemory struct{ used, total int }

// readGPUMemory asks nvidia-smi for each GPU's used and total memory; nil
// with a note when it cannot.
func readGPUMemory(ctx context.Context, env []string) ([]gpuMemory, string) {
	out, note := nvidiaSMI(ctx, env, "--query-gpu=memory.used,memory.total", "--format=csv,noheader,nounits")
	if note != "" {
		return nil, note
	}
	var mem []gpuMemory
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var g gpuMemory
		if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%d %d", &g.used, &g.total); err != nil {
			return nil, fmt.Sprintf("unreadable nvidia-smi memory line %q", line)
		}
		mem = append(mem, g)
	}
	if len(mem) == 0 {
		return nil, "nvidia-smi reported no GPU"
	}
	return mem, ""
}

// fitsTwice decides from the GPU memory before and after the first server
// came up whether a second of its size fits too, with 10 % and 1 GiB to
// spare on every GPU.
func fitsTwice(before, after []gpuMemory) (bool, string) {
	if len(before) != len(after) {
		return false, "one server at a time: the GPUs changed while the first server started"
	}
	var worst []string
	for i := range after {
		need := max(0, after[i].used-before[i].used)
		free := after[i].total - after[i].used
		if free < need+need/10+1024 {
			return false, fmt.Sprintf("one server at a time: the first server took %d MiB of GPU %d, and %d MiB are free", need, i, free)
		}
		worst = append(worst, fmt.Sprintf("GPU %d: %d MiB taken, %d MiB free", i, need, free))
	}
	sort.Strings(worst)
	return true, "both servers stay up and requests alternate between them: a second server fits (" + strings.Join(worst, "; ") + ")"
}

// serveCommand is the head's serve command and request, for the report.
func (m *runner) serveCommand(sd *side) string {
	argv := m.serve.Template.expand(vars{Model: m.model, Side: sd.name, Run: "1", Worktree: sd.worktree, Port: "{port}", Args: m.args})
	body, _ := m.requestBody(sd.name + "-01.json") // relative to the out folder, as the report names files
	return QuoteWords(argv) + "\n" + m.endpointPath() + " " + string(body)
}

// repeatServe is Repeat in mode serve: s.Runs launches of the server in
// the current checkout, one after the other.
func (m *runner) repeatServe(ctx context.Context, s RepeatSpec, sd *side) ([]dump.Run, *dump.Failure, error) {
	if err := s.Serve.validate(); err != nil {
		return nil, nil, err
	}
	m.serve = newServing(s.Serve)
	m.total = s.Runs * s.Serve.Requests
	for range s.Runs {
		if f := m.serveApart(ctx, []*side{sd}, ""); f != nil {
			return sd.runs[""], f, ctx.Err()
		}
	}
	return sd.runs[""], nil, nil
}

// ValidateServe reports the first field of s that is out of range, named
// as the input that sets it.
func ValidateServe(s *Serve) error { return s.validate() }
