# Copied verbatim from the project's shared GPU kit (peers/torch_gpt2.py, 2026-12-03) so it travels with the checkout: scripts/gpu-bench.sh runs it.
# PyTorch eager (HF transformers) GPT-2 124M on CUDA: TTFT and ITL, batch 1, greedy, KV cache, one .item() per token (what a streaming user does).
import time, json, os, sys, statistics
import torch
from transformers import GPT2Config, GPT2LMHeadModel
dev = 'cuda'
res = {'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0)}
def q(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))]
for name, dtype in [('fp32', torch.float32), ('fp16', torch.float16)]:
    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config()).to(dev, dtype).eval()
    for P in (1, 128, 512, 1000):
        ids = torch.randint(0, 50257, (1, P), device=dev)
        with torch.no_grad():
            for _ in range(3):
                out = m(ids, use_cache=True); out.logits[:, -1].argmax(-1).item()
            tt = []
            for _ in range(10):
                t0 = time.perf_counter(); out = m(ids, use_cache=True); tok = out.logits[:, -1].argmax(-1, keepdim=True); tok.item(); tt.append(time.perf_counter() - t0)
            past = out.past_key_values; nxt = tok; itl = []
            for i in range(min(128, 1024 - P)):
                t0 = time.perf_counter(); out = m(nxt, past_key_values=past, use_cache=True); past = out.past_key_values; nxt = out.logits[:, -1].argmax(-1, keepdim=True); nxt.item(); itl.append(time.perf_counter() - t0)
        r = {'ttft_ms_p50': 1e3 * q(tt, .5), 'itl_ms_p50': 1e3 * q(itl, .5), 'itl_ms_p90': 1e3 * q(itl, .9), 'decode_tok_s': 1 / statistics.mean(itl)}
        res[f'{name}_P{P}'] = r
        print(name, 'prompt', P, json.dumps({k: round(v, 3) for k, v in r.items()}), flush=True)
# the same with torch.compile + static cache would be the strongest PyTorch peer; skipped here
out = os.environ.get('OUT', '/tmp')
json.dump(res, open(os.path.join(out, 'torch_gpt2.json'), 'w'), indent=1)
