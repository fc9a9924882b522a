"""PyTorch baselines on the same shapes and groups as the moga GPU bench.

Dense scaled_dot_product_attention (flash backend) over all N tokens, and variable-length flash
attention over MoGA's groups (read from plan-M.bin written by the node bench: [M, offsets, index]).
Times with CUDA events; writes torch.json. Usage: torch_baseline.py PLAN_DIR OUT_JSON BUDGET_S
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

plan_dir, out_json, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
N, H, D = int(os.environ.get("BENCH_N", 578000)), 12, 128
t_start = time.time()
left = lambda: budget - (time.time() - t_start)
dev = "cuda"
res = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "n": N, "dense": {}, "varlen": {}, "notes": []}


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return sorted(ts)[len(ts) // 2]


def rnd(*shape):
    return (torch.rand(*shape, device=dev, dtype=torch.float32) * 2 - 1).to(torch.bfloat16)


def save():
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)


# varlen API: prefer the public one, fall back to aten's flash op
def varlen_fns():
    try:
        from torch.nn.attention.varlen import varlen_attn  # torch >= 2.10

        def fwd(q, k, v, cu, mx):
            return varlen_attn(q, k, v, cu, cu, mx, mx)

        return "torch.nn.attention.varlen.varlen_attn", fwd
    except Exception as e:  # noqa: BLE001
        res["notes"].append(f"varlen_attn unavailable: {e}")

    def fwd(q, k, v, cu, mx):
        return torch.ops.aten._flash_attention_forward(q, k, v, cu, cu, mx, mx, 0.0, False, False)[0]

    return "torch.ops.aten._flash_attention_forward", fwd


api, vfwd = varlen_fns()
res["varlen_api"] = api

# varlen over the same groups, smallest work first
for m in (20, 5):  # M = 1 is one group of all N: the dense row below
    path = os.path.join(plan_dir, f"plan-{m}.bin")
    if not os.path.exists(path):
        res["notes"].append(f"no {path}")
        continue
    a = np.fromfile(path, dtype=np.int32)
    offs = torch.from_numpy(a[1 : m + 2].copy()).to(dev)
    idx = torch.from_numpy(a[m + 2 :].copy()).to(dev).long()
    mx = int((offs[1:] - offs[:-1]).max())
    q, k, v = (rnd(N, H, D)[idx].contiguous() for _ in range(3))
    r = {}
    try:
        vfwd(q, k, v, offs, mx)
        torch.cuda.synchronize()
        one = timed(lambda: vfwd(q, k, v, offs, mx), 1)
        r["fwd_ms"] = timed(lambda: vfwd(q, k, v, offs, mx), 3) if one < 2000 else one
        print(f"torch varlen M={m} fwd {r['fwd_ms']:.2f} ms", flush=True)
        if r["fwd_ms"] * 4 / 1000 < left():
            qg, kg, vg = (x.detach().requires_grad_() for x in (q, k, v))
            o = vfwd(qg, kg, vg, offs, mx)
            do = torch.randn_like(o)
            o.backward(do)  # warm-up
            torch.cuda.synchronize()

            def fb():
                o = vfwd(qg, kg, vg, offs, mx)
                o.backward(do)

            r["fwd_bwd_ms"] = timed(fb, 1)
            r["bwd_ms"] = r["fwd_bwd_ms"] - r["fwd_ms"]
            print(f"torch varlen M={m} bwd {r['bwd_ms']:.2f} ms", flush=True)
    except Exception as e:  # noqa: BLE001
        r["error"] = repr(e)[:300]
        print(f"torch varlen M={m} failed: {e}", flush=True)
    res["varlen"][str(m)] = r
    del q, k, v
    torch.cuda.empty_cache()
    save()

# dense SDPA, flash backend, all N tokens (seconds per call: one warm-up at full size, then one timed)
q, k, v = rnd(1, H, N, D), rnd(1, H, N, D), rnd(1, H, N, D)
try:
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        F.scaled_dot_product_attention(q[:, :, :8192], k[:, :, :8192], v[:, :, :8192])
        torch.cuda.synchronize()
        res["dense"]["fwd_ms"] = timed(lambda: F.scaled_dot_product_attention(q, k, v), 1)
        print(f"torch dense fwd {res['dense']['fwd_ms']:.1f} ms", flush=True)
        save()
        if res["dense"]["fwd_ms"] * 2 / 1000 < left():
            res["dense"]["fwd_ms_2"] = timed(lambda: F.scaled_dot_product_attention(q, k, v), 1)
            print(f"torch dense fwd (2nd) {res['dense']['fwd_ms_2']:.1f} ms", flush=True)
        if res["dense"]["fwd_ms"] * 4.5 / 1000 < left():
            qg, kg, vg = (x.detach().requires_grad_() for x in (q, k, v))
            do = rnd(1, H, N, D)

            def fb():
                F.scaled_dot_product_attention(qg, kg, vg).backward(do)

            res["dense"]["fwd_bwd_ms"] = timed(fb, 1)
            res["dense"]["bwd_ms"] = res["dense"]["fwd_bwd_ms"] - res["dense"]["fwd_ms"]
            print(f"torch dense bwd {res['dense']['bwd_ms']:.1f} ms", flush=True)
        else:
            res["notes"].append("dense backward skipped (time budget)")
except Exception as e:  # noqa: BLE001
    res["dense"]["error"] = repr(e)[:300]
    print(f"torch dense failed: {e}", flush=True)
save()
