#!/usr/bin/env python3
"""A stand-in for `sglang generate` on a GPU, for measuring diffperf itself.

It takes sglang's flags (--model-path, --prompt, --warmup, --perf-dump-path,
--num-inference-steps, --height, --width, --seed), builds a model with random
weights -- a text encoder, a DiT-like denoising transformer and a convolutional
decoder -- runs one generation and writes sglang's perf dump (stages, denoise
steps, memory checkpoints) with real timings.

--model-path picks the size:
  sim/dit-1024   compute-bound: 4096 image tokens at 1024x1024, hidden 2048,
                 28 blocks (about 0.7 s a generation on an H100)
  sim/dit-tiny   launch-bound: 256 tokens, hidden 256, 12 blocks, like a
                 4-step distilled model (tens of ms)

A planted slowdown comes from gpu_workload.txt in the working directory
(slowdown_pct=2 makes each denoising step do 2 % more matrix FLOPs), so two
commits of a repository can differ by a known amount of work.
"""
import argparse
import datetime
import json
import math
import os
import sys
import time


CONFIGS = {
    "sim/dit-1024": dict(hidden=2048, heads=16, blocks=28, text_blocks=4, text_tokens=256, patch=16, steps=28, size=1024),
    "sim/dit-tiny": dict(hidden=256, heads=4, blocks=12, text_blocks=2, text_tokens=64, patch=16, steps=4, size=256),
}


def read_workload():
    pct = 0.0
    try:
        with open("gpu_workload.txt") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k == "slowdown_pct":
                    pct = float(v)
    except FileNotFoundError:
        pass
    return pct


def main():
    p = argparse.ArgumentParser(prog="sglang")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--model-path", required=True)
    g.add_argument("--prompt", default="A curious raccoon")
    g.add_argument("--warmup", action="store_true")
    g.add_argument("--perf-dump-path", default=None)
    g.add_argument("--num-inference-steps", type=int, default=None)
    g.add_argument("--height", type=int, default=None)
    g.add_argument("--width", type=int, default=None)
    g.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.model_path not in CONFIGS:
        print(f"unknown model {a.model_path!r}; known: {sorted(CONFIGS)}", file=sys.stderr)
        return 2
    cfg = dict(CONFIGS[a.model_path])
    steps = a.num_inference_steps or cfg["steps"]
    height = a.height or cfg["size"]
    width = a.width or cfg["size"]
    slowdown = read_workload()

    import torch
    import torch.nn.functional as F

    dev = "cuda"
    dt = torch.bfloat16
    torch.manual_seed(a.seed)
    sync = os.environ.get("SGLANG_DIFFUSION_SYNC_STAGE_PROFILING") == "1"
    H, heads = cfg["hidden"], cfg["heads"]
    tokens = (height // cfg["patch"]) * (width // cfg["patch"])
    lat_c, lat_h, lat_w = 16, height // 8, width // 8

    def linear(i, o):
        return (torch.randn(i, o, device=dev, dtype=dt) / math.sqrt(i))

    def block_weights():
        return dict(qkv=linear(H, 3 * H), out=linear(H, H), up=linear(H, 4 * H), down=linear(4 * H, H))

    def block(x, w):
        B, T, _ = x.shape
        h = F.layer_norm(x, (H,))
        q, k, v = (h @ w["qkv"]).view(B, T, 3, heads, H // heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, H)
        x = x + att @ w["out"]
        h = F.layer_norm(x, (H,))
        return x + F.gelu(h @ w["up"]) @ w["down"]

    text_w = [block_weights() for _ in range(cfg["text_blocks"])]
    dit_w = [block_weights() for _ in range(cfg["blocks"])]
    embed = torch.randn(32000, H, device=dev, dtype=dt) * 0.02
    patch_in = linear(lat_c * 4, H)  # 2x2 latent patches
    patch_out = linear(H, lat_c * 4)
    dec = [torch.randn(o, i, 3, 3, device=dev, dtype=dt) / math.sqrt(i * 9) for i, o in [(lat_c, 128), (128, 64), (64, 32), (32, 3)]]
    # The planted slowdown: extra transformer-block work worth slowdown_pct
    # of a step's FLOPs -- whole blocks, then one block over a slice of the
    # tokens -- with the model's own weights, so the kernels are the same
    # kind and the memory does not grow.
    def block_flops(t):
        return 24 * t * H * H + 4 * t * t * H

    want = slowdown / 100 * cfg["blocks"] * block_flops(tokens)
    extra_full = int(want // block_flops(tokens))
    rest = want - extra_full * block_flops(tokens)
    # Solve 4 H t^2 + 24 H^2 t = rest for t, the tokens of the partial block.
    extra_tokens = int(round((-24 * H * H + math.sqrt((24 * H * H) ** 2 + 16 * H * rest)) / (8 * H))) if rest > 0 else 0

    mem = {}

    def checkpoint(name):
        torch.cuda.synchronize()
        mb = lambda b: round(b / 2**20, 2)
        mem[name] = dict(allocated_mb=mb(torch.cuda.memory_allocated()), reserved_mb=mb(torch.cuda.memory_reserved()),
                         peak_allocated_mb=mb(torch.cuda.max_memory_allocated()), peak_reserved_mb=mb(torch.cuda.max_memory_reserved()))

    def generate(n_steps, record):
        stages, den = [], []

        def stage(name, fn):
            if sync:
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = fn()
            if sync:
                torch.cuda.synchronize()
            stages.append({"name": name, "duration_ms": (time.perf_counter() - t) * 1000})
            if record:
                checkpoint("after_" + name)
            return out

        torch.cuda.synchronize()
        if record:
            checkpoint("before_forward")
        t0 = time.perf_counter()
        stage("InputValidationStage", lambda: None)
        words = a.prompt.split() or ["empty"]
        ids = torch.tensor([sum(map(ord, w)) % 32000 for w in (words * cfg["text_tokens"])[: cfg["text_tokens"]]], device=dev)

        def encode():
            x = embed[ids].unsqueeze(0)
            for w in text_w:
                x = block(x, w)
            return x.mean(1, keepdim=True)

        cond = stage("TextEncodingStage", encode)
        stage("TimestepPreparationStage", lambda: torch.linspace(1, 0, n_steps + 1, device=dev))
        lat = stage("LatentPreparationStage", lambda: torch.randn(1, lat_c, lat_h, lat_w, device=dev, dtype=dt))

        def denoise():
            x = lat
            for i in range(n_steps):
                if sync:
                    torch.cuda.synchronize()
                t = time.perf_counter()
                tok = F.pixel_unshuffle(x, 2).flatten(2).transpose(1, 2) @ patch_in + cond
                tok = tok[:, :tokens]
                for w in dit_w:
                    tok = block(tok, w)
                for j in range(extra_full):
                    tok = block(tok, dit_w[j])
                if extra_tokens > 0:
                    part = block(tok[:, :extra_tokens], dit_w[-1])
                    tok = torch.cat([part, tok[:, extra_tokens:]], dim=1)
                eps = (tok @ patch_out).transpose(1, 2).reshape(1, lat_c * 4, lat_h // 2, lat_w // 2)
                x = x - F.pixel_shuffle(eps, 2) / n_steps
                if sync:
                    torch.cuda.synchronize()
                den.append({"step": i, "duration_ms": (time.perf_counter() - t) * 1000})
            return x

        x = stage("DenoisingStage", denoise)

        def decode():
            y = x
            for j, w in enumerate(dec):
                y = F.conv2d(y, w, padding=1)
                if j < 3:
                    y = F.interpolate(F.silu(y), scale_factor=2, mode="nearest")
            return y

        stage("DecodingStage", decode)
        torch.cuda.synchronize()
        total = (time.perf_counter() - t0) * 1000
        if record:
            checkpoint("after_forward")
        return total, stages, den

    if a.warmup:
        generate(1, False)  # sglang's warm-up: a one-step copy, never dumped
    total, stages, den = generate(steps, True)
    print(f"generated {height}x{width} in {total:.1f} ms ({steps} steps, slowdown_pct={slowdown}: "
          f"{extra_full} extra blocks and one over {extra_tokens} of {tokens} tokens a step)")
    if a.perf_dump_path:
        dump = {
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "request_id": "mocked_fake_id_for_offline_generate",
            "commit_hash": os.environ.get("SGLANG_GIT_COMMIT", "N/A"),
            "tag": "cli_generate",
            "total_duration_ms": total,
            "steps": stages,
            "denoise_steps_ms": den,
            "memory_checkpoints": mem,
            "meta": {"prompt": a.prompt, "model": a.model_path},
        }
        with open(a.perf_dump_path, "w") as f:
            json.dump(dump, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
