#!/usr/bin/env python3
"""A stand-in for `sglang generate` and `sglang serve` on a GPU, for measuring
diffperf itself.

`generate` takes sglang's flags (--model-path, --prompt, --warmup,
--perf-dump-path, --num-inference-steps, --height, --width, --seed), builds a
model with random weights -- a text encoder, a DiT-like denoising transformer
and a convolutional decoder -- runs one generation and writes sglang's perf
dump (stages, denoise steps, memory checkpoints) with real timings.

`serve` (--model-path, --port, --host) loads the same model once, warms it up
with a one-step generation, and answers sglang's HTTP API on 127.0.0.1 with
Python's http.server, one generation at a time: GET /health, GET /v1/models,
POST /v1/images/generations (JSON: prompt, size or width/height,
num_inference_steps, seed, perf_dump_path, response_format) and POST
/v1/videos with GET /v1/videos/{id}. Each request's dump (tag
server_perf_dump) goes to its perf_dump_path. SIGTERM ends it at once.

Both pay a model load that diffperf's serve mode is meant to save:
--load-gb N allocates and fills N GiB of stand-in weights on the GPU, and
--load-sleep-s S sleeps S seconds, standing in for reading the weights from
disk (both 0 by default, as in the first trials).

--model-path picks the size:
  sim/dit-1024   compute-bound: 4096 image tokens at 1024x1024, hidden 2048,
                 28 blocks (about 0.7 s a generation on an H100)
  sim/dit-tiny   launch-bound: 256 tokens, hidden 256, 12 blocks, like a
                 4-step distilled model (tens of ms)

A planted slowdown comes from gpu_workload.txt in the working directory
(slowdown_pct=2 makes each denoising step do 2 % more matrix FLOPs), so two
commits of a repository can differ by a known amount of work.
extra_matmul=N plants one op of its own instead: each denoising step also
multiplies two N x N float32 matrices (TF32 off), a GEMM kernel that the
bf16 model never runs, so a profile shows it as added.

--profile (with --num-profiled-timesteps N, default 5, -1 for all, and
--profile-all-stages) profiles the generation with torch.profiler as
sglang's SGLDiffusionProfiler does -- CPU and CUDA activities, shapes and
stacks recorded; one warm-up denoising step, then N steps, one profiler step
each; or, with --profile-all-stages, every stage, one profiler step a stage --
and writes the gzipped Chrome trace to SGLANG_DIFFUSION_TORCH_PROFILER_DIR
(else SGLANG_TORCH_PROFILER_DIR, else ./logs) as
<request_id>-<N>_steps-global-rank0.trace.json.gz (full_stages for all
stages). `serve` takes the request fields profile, num_profiled_timesteps
and profile_all_stages, the folder from its environment at start. With
--dry-run nothing is profiled.

--dry-run replaces the GPU with sleeps (no torch needed), to check the
plumbing on a machine without a GPU; its timings mean nothing.
"""
import argparse
import base64
import datetime
import json
import math
import os
import re
import signal
import sys
import threading
import time


CONFIGS = {
    "sim/dit-1024": dict(hidden=2048, heads=16, blocks=28, text_blocks=4, text_tokens=256, patch=16, steps=28, size=1024),
    "sim/dit-tiny": dict(hidden=256, heads=4, blocks=12, text_blocks=2, text_tokens=64, patch=16, steps=4, size=256),
}


def read_workload():
    """slowdown_pct and extra_matmul of gpu_workload.txt (0 when absent)."""
    pct, extra = 0.0, 0
    try:
        with open("gpu_workload.txt") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k == "slowdown_pct":
                    pct = float(v)
                elif k == "extra_matmul":
                    extra = int(v)
    except FileNotFoundError:
        pass
    return pct, extra


class Pipeline:
    """The model of one process: weights on the GPU and a generate method
    that times its stages as sglang does."""

    def __init__(self, model_path, seed, workload, load_gb=0.0, load_sleep_s=0.0, dry_run=False):
        self.cfg = dict(CONFIGS[model_path])
        self.model_path = model_path
        self.slowdown, self.extra_n = workload
        self.extra = None
        self.dry_run = dry_run
        self.sync = os.environ.get("SGLANG_DIFFUSION_SYNC_STAGE_PROFILING") == "1"
        if load_sleep_s > 0:
            time.sleep(load_sleep_s)  # stands in for reading weights from disk
        if dry_run:
            return
        import torch
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        self.dev, self.dt = "cuda", torch.bfloat16
        torch.manual_seed(seed)
        cfg = self.cfg
        H = cfg["hidden"]
        self.lat_c = 16
        # Stand-in weights that nothing reads: the memory and the time of
        # loading a real model's.
        self.ballast = None
        if load_gb > 0:
            self.ballast = torch.empty(int(load_gb * 2**30), dtype=torch.uint8, device=self.dev)
            self.ballast.fill_(1)
            torch.cuda.synchronize()
        self.text_w = [self.block_weights() for _ in range(cfg["text_blocks"])]
        self.dit_w = [self.block_weights() for _ in range(cfg["blocks"])]
        self.embed = torch.randn(32000, H, device=self.dev, dtype=self.dt) * 0.02
        self.patch_in = self.linear(self.lat_c * 4, H)  # 2x2 latent patches
        self.patch_out = self.linear(H, self.lat_c * 4)
        self.dec = [torch.randn(o, i, 3, 3, device=self.dev, dtype=self.dt) / math.sqrt(i * 9)
                    for i, o in [(self.lat_c, 128), (128, 64), (64, 32), (32, 3)]]
        if self.extra_n > 0:
            torch.backends.cuda.matmul.allow_tf32 = False  # a float32 GEMM kernel of its own
            self.extra = torch.randn(self.extra_n, self.extra_n, device=self.dev, dtype=torch.float32) / math.sqrt(self.extra_n)

    def linear(self, i, o):
        return self.torch.randn(i, o, device=self.dev, dtype=self.dt) / math.sqrt(i)

    def block_weights(self):
        H = self.cfg["hidden"]
        return dict(qkv=self.linear(H, 3 * H), out=self.linear(H, H), up=self.linear(H, 4 * H), down=self.linear(4 * H, H))

    def block(self, x, w):
        F, H, heads = self.F, self.cfg["hidden"], self.cfg["heads"]
        B, T, _ = x.shape
        h = F.layer_norm(x, (H,))
        q, k, v = (h @ w["qkv"]).view(B, T, 3, heads, H // heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, H)
        x = x + att @ w["out"]
        h = F.layer_norm(x, (H,))
        return x + F.gelu(h @ w["up"]) @ w["down"]

    def plant(self, tokens):
        """The planted slowdown: extra transformer-block work worth
        slowdown_pct of a step's FLOPs -- whole blocks, then one block over a
        slice of the tokens -- with the model's own weights, so the kernels
        are the same kind and the memory does not grow."""
        H, blocks = self.cfg["hidden"], self.cfg["blocks"]

        def block_flops(t):
            return 24 * t * H * H + 4 * t * t * H

        want = self.slowdown / 100 * blocks * block_flops(tokens)
        extra_full = int(want // block_flops(tokens))
        rest = want - extra_full * block_flops(tokens)
        # Solve 4 H t^2 + 24 H^2 t = rest for t, the tokens of the partial block.
        extra_tokens = int(round((-24 * H * H + math.sqrt((24 * H * H) ** 2 + 16 * H * rest)) / (8 * H))) if rest > 0 else 0
        return extra_full, extra_tokens

    def generate(self, prompt, steps, height, width, record, reset_peaks=False, profiler=None):
        """One generation: (total ms, stages, denoise steps, memory
        checkpoints, planted work). reset_peaks makes the memory peaks this
        generation's own (a server's requests), not the process's. profiler,
        a Profiler, is stepped after each stage or denoising step."""
        if self.dry_run:
            return self.generate_dry(steps)
        torch, F, cfg = self.torch, self.F, self.cfg
        dev, dt, sync = self.dev, self.dt, self.sync
        tokens = (height // cfg["patch"]) * (width // cfg["patch"])
        lat_h, lat_w, lat_c = height // 8, width // 8, self.lat_c
        extra_full, extra_tokens = self.plant(tokens)
        stages, den, mem = [], [], {}

        def checkpoint(name):
            torch.cuda.synchronize()
            mb = lambda b: round(b / 2**20, 2)
            mem[name] = dict(allocated_mb=mb(torch.cuda.memory_allocated()), reserved_mb=mb(torch.cuda.memory_reserved()),
                             peak_allocated_mb=mb(torch.cuda.max_memory_allocated()), peak_reserved_mb=mb(torch.cuda.max_memory_reserved()))

        def stage(name, fn):
            if sync:
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = fn()
            if sync:
                torch.cuda.synchronize()
            stages.append({"name": name, "duration_ms": (time.perf_counter() - t) * 1000})
            if profiler:
                profiler.step_stage()
            if record:
                checkpoint("after_" + name)
            return out

        torch.cuda.synchronize()
        if record and reset_peaks:
            torch.cuda.reset_peak_memory_stats()
        if record:
            checkpoint("before_forward")
        t0 = time.perf_counter()
        stage("InputValidationStage", lambda: None)
        words = prompt.split() or ["empty"]
        ids = torch.tensor([sum(map(ord, w)) % 32000 for w in (words * cfg["text_tokens"])[: cfg["text_tokens"]]], device=dev)

        def encode():
            x = self.embed[ids].unsqueeze(0)
            for w in self.text_w:
                x = self.block(x, w)
            return x.mean(1, keepdim=True)

        cond = stage("TextEncodingStage", encode)
        stage("TimestepPreparationStage", lambda: torch.linspace(1, 0, steps + 1, device=dev))
        lat = stage("LatentPreparationStage", lambda: torch.randn(1, lat_c, lat_h, lat_w, device=dev, dtype=dt))

        def denoise():
            x = lat
            for i in range(steps):
                if sync:
                    torch.cuda.synchronize()
                t = time.perf_counter()
                tok = F.pixel_unshuffle(x, 2).flatten(2).transpose(1, 2) @ self.patch_in + cond
                tok = tok[:, :tokens]
                for w in self.dit_w:
                    tok = self.block(tok, w)
                for j in range(extra_full):
                    tok = self.block(tok, self.dit_w[j])
                if extra_tokens > 0:
                    part = self.block(tok[:, :extra_tokens], self.dit_w[-1])
                    tok = torch.cat([part, tok[:, extra_tokens:]], dim=1)
                if self.extra is not None:
                    self.extra_out = self.extra @ self.extra  # the planted op
                eps = (tok @ self.patch_out).transpose(1, 2).reshape(1, lat_c * 4, lat_h // 2, lat_w // 2)
                x = x - F.pixel_shuffle(eps, 2) / steps
                if sync:
                    torch.cuda.synchronize()
                den.append({"step": i, "duration_ms": (time.perf_counter() - t) * 1000})
                if profiler:
                    profiler.step_denoising_step()
            return x

        x = stage("DenoisingStage", denoise)

        def decode():
            y = x
            for j, w in enumerate(self.dec):
                y = F.conv2d(y, w, padding=1)
                if j < 3:
                    y = F.interpolate(F.silu(y), scale_factor=2, mode="nearest")
            return y

        stage("DecodingStage", decode)
        torch.cuda.synchronize()
        total = (time.perf_counter() - t0) * 1000
        if record:
            checkpoint("after_forward")
        return total, stages, den, mem, (extra_full, extra_tokens, tokens)

    def generate_dry(self, steps):
        step_s = 0.002 * (1 + self.slowdown / 100)
        t0 = time.perf_counter()
        den = []
        for i in range(steps):
            t = time.perf_counter()
            time.sleep(step_s)
            den.append({"step": i, "duration_ms": (time.perf_counter() - t) * 1000})
        total = (time.perf_counter() - t0) * 1000
        return total, [{"name": "DenoisingStage", "duration_ms": total}], den, {}, (0, 0, 0)


def profile_dir():
    """Where sglang writes its traces."""
    return os.environ.get("SGLANG_DIFFUSION_TORCH_PROFILER_DIR") or os.environ.get("SGLANG_TORCH_PROFILER_DIR") or "./logs"


class Profiler:
    """torch.profiler as sglang's SGLDiffusionProfiler drives it: started
    before the generation; without all_stages, a schedule of one warm-up
    step then num_steps active denoising steps (-1: all steps), stepped
    after each denoising step; with all_stages, no schedule, stepped after
    each stage. stop() exports the gzipped Chrome trace and returns its
    path."""

    def __init__(self, request_id, num_steps, num_inference_steps, all_stages, log_dir):
        import torch

        self.torch = torch
        self.all_stages = all_stages
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        common = dict(activities=activities, record_shapes=True, with_stack=True)
        if all_stages:
            self.prof = torch.profiler.profile(**common)
            mode = "full_stages"
        else:
            n = num_inference_steps if num_steps == -1 else num_steps
            self.prof = torch.profiler.profile(
                **common, schedule=torch.profiler.schedule(wait=0, warmup=1, active=n, repeat=1))
            mode = f"{n}_steps"
        os.makedirs(log_dir, exist_ok=True)
        self.path = os.path.abspath(os.path.join(log_dir, f"{request_id}-{mode}-global-rank0.trace.json.gz"))
        self.prof.start()

    def step_stage(self):
        if self.all_stages:
            self.prof.step()

    def step_denoising_step(self):
        if not self.all_stages:
            self.prof.step()

    def stop(self):
        if self.torch.cuda.is_available():
            self.torch.cuda.synchronize()
        self.prof.stop()
        self.prof.export_chrome_trace(self.path)  # a .gz path is written gzipped
        return self.path


def dump_of(pipe, total, stages, den, mem, tag, meta):
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "request_id": "mocked_fake_id_for_offline_generate" if tag == "cli_generate" else "fake-server-request",
        "commit_hash": os.environ.get("SGLANG_GIT_COMMIT", "N/A"),
        "tag": tag,
        "total_duration_ms": total,
        "steps": stages,
        "denoise_steps_ms": den,
        "memory_checkpoints": mem,
        "meta": meta,
    }


def generate_main(a):
    cfg = CONFIGS[a.model_path]
    steps = a.num_inference_steps or cfg["steps"]
    height = a.height or cfg["size"]
    width = a.width or cfg["size"]
    pipe = Pipeline(a.model_path, a.seed, read_workload(), a.load_gb, a.load_sleep_s, a.dry_run)
    if a.warmup:
        pipe.generate(a.prompt, 1, height, width, False)  # sglang's warm-up: a one-step copy, never dumped
    prof = None
    if a.profile and not a.dry_run:
        prof = Profiler("mocked_fake_id_for_offline_generate", a.num_profiled_timesteps, steps, a.profile_all_stages, profile_dir())
    total, stages, den, mem, (extra_full, extra_tokens, tokens) = pipe.generate(a.prompt, steps, height, width, True, profiler=prof)
    if prof:
        print(f"Saving profiler traces to: {prof.stop()}", flush=True)
    print(f"generated {height}x{width} in {total:.1f} ms ({steps} steps, slowdown_pct={pipe.slowdown}: "
          f"{extra_full} extra blocks and one over {extra_tokens} of {tokens} tokens a step)")
    if a.perf_dump_path:
        with open(a.perf_dump_path, "w") as f:
            json.dump(dump_of(pipe, total, stages, den, mem, "cli_generate", {"prompt": a.prompt, "model": a.model_path}), f, indent=2)
    return 0


def serve_main(a):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    # SIGTERM ends the server at once, as diffperf expects of a server
    # between requests.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"fake sglang server: pid {os.getpid()}, model {a.model_path}", flush=True)
    t = time.perf_counter()
    pipe = Pipeline(a.model_path, a.seed, read_workload(), a.load_gb, a.load_sleep_s, a.dry_run)
    cfg = CONFIGS[a.model_path]
    pipe.generate("warm-up", 1, cfg["size"], cfg["size"], False)  # the server's own warm-up, never dumped
    print(f"loaded {a.model_path} in {time.perf_counter() - t:.1f} s (slowdown_pct={pipe.slowdown})", flush=True)
    gpu = threading.Lock()  # one generation at a time, as on one GPU
    jobs, jobs_lock = {}, threading.Lock()
    log_dir = profile_dir()  # fixed when the server starts, as in sglang
    profiled = [0]

    def run(req):
        """One request: its generation, its dump. Returns the total ms."""
        steps = int(req.get("num_inference_steps") or cfg["steps"])
        width = int(req.get("width") or cfg["size"])
        height = int(req.get("height") or cfg["size"])
        m = re.fullmatch(r"(\d+)x(\d+)", str(req.get("size") or ""))
        if m:
            width, height = int(m.group(1)), int(m.group(2))
        with gpu:
            prof = None
            if req.get("profile") and not a.dry_run:
                profiled[0] += 1
                prof = Profiler(f"fake-server-request-{profiled[0]}", int(req.get("num_profiled_timesteps") or 5), steps,
                                bool(req.get("profile_all_stages")), log_dir)
            total, stages, den, mem, _ = pipe.generate(str(req.get("prompt", "")), steps, height, width, True, reset_peaks=True, profiler=prof)
            if prof:
                print(f"Saving profiler traces to: {prof.stop()}", flush=True)
        path = req.get("perf_dump_path")
        if path:
            with open(path, "w") as f:
                json.dump(dump_of(pipe, total, stages, den, mem, "server_perf_dump", {"model": a.model_path}), f, indent=2)
        print(f"request: {width}x{height}, {steps} steps, {total:.1f} ms", flush=True)
        return total

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # to stdout, the server's log
            print("http: " + fmt % args, flush=True)

        def answer(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def do_GET(self):
            if self.path == "/health":
                self.answer(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self.answer(200, {"object": "list", "data": [{"id": a.model_path, "object": "model"}]})
            elif self.path.startswith("/v1/videos/"):
                with jobs_lock:
                    job = dict(jobs.get(self.path[len("/v1/videos/"):]) or {})
                self.answer(200 if job else 404, job or {"detail": "Video not found"})
            else:
                self.answer(404, {"detail": "Not Found"})

        def do_POST(self):
            try:
                req = self.body()
            except ValueError as e:
                self.answer(400, {"detail": f"Invalid request body: {e}"})
                return
            if self.path == "/v1/images/generations":
                try:
                    total = run(req)
                except Exception as e:  # an error of the "model" is a 500, as in sglang
                    self.answer(500, {"error": {"message": str(e)}})
                    return
                self.answer(200, {"id": "img", "created": int(time.time()), "inference_time_s": total / 1000,
                                  "data": [{"b64_json": base64.b64encode(b"fake png").decode()}]})
            elif self.path == "/v1/videos":
                with jobs_lock:
                    job = {"id": f"video_{len(jobs) + 1}", "object": "video", "status": "queued", "model": req.get("model")}
                    jobs[job["id"]] = job

                def work():
                    try:
                        run(req)
                        status = {"status": "completed"}
                    except Exception as e:
                        status = {"status": "failed", "error": {"message": str(e)}}
                    with jobs_lock:
                        job.update(status)

                threading.Thread(target=work, daemon=True).start()
                self.answer(200, dict(job))
            else:
                self.answer(404, {"detail": "Not Found"})

    httpd = ThreadingHTTPServer((a.host, a.port), Handler)
    print("Application startup complete.", flush=True)
    httpd.serve_forever()
    return 0


def main():
    p = argparse.ArgumentParser(prog="sglang")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("generate", "serve"):
        s = sub.add_parser(name)
        s.add_argument("--model-path", required=True)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--load-gb", type=float, default=0.0, help="GiB of stand-in weights to allocate and fill on the GPU")
        s.add_argument("--load-sleep-s", type=float, default=0.0, help="seconds of sleep standing in for reading weights from disk")
        s.add_argument("--dry-run", action="store_true", help="no GPU: sleeps instead of kernels, to check the plumbing")
    g = sub.choices["generate"]
    g.add_argument("--prompt", default="A curious raccoon")
    g.add_argument("--warmup", action="store_true")
    g.add_argument("--perf-dump-path", default=None)
    g.add_argument("--num-inference-steps", type=int, default=None)
    g.add_argument("--height", type=int, default=None)
    g.add_argument("--profile", action="store_true", help="profile the denoising stage with torch.profiler")
    g.add_argument("--num-profiled-timesteps", type=int, default=5, help="denoising steps to profile after one warm-up step (-1: all)")
    g.add_argument("--profile-all-stages", action="store_true", help="with --profile, profile every stage")
    g.add_argument("--width", type=int, default=None)
    s = sub.choices["serve"]
    s.add_argument("--port", type=int, default=30000)
    s.add_argument("--host", default="127.0.0.1")
    a = p.parse_args()
    if a.model_path not in CONFIGS:
        print(f"unknown model {a.model_path!r}; known: {sorted(CONFIGS)}", file=sys.stderr)
        return 2
    return serve_main(a) if a.cmd == "serve" else generate_main(a)


if __name__ == "__main__":
    sys.exit(main())
