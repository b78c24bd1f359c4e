# Copied verbatim from the project's shared GPU kit (peers/torch_compiled.py, 2026-12-03) so it travels with the checkout: scripts/gpu-bench.sh runs it.
# Strongest PyTorch peer: HF generate with a static KV cache and torch.compile(mode="reduce-overhead") (CUDA graphs), GPT-2 124M fp32, batch 1.
import time, torch, json, os
from transformers import GPT2Config, GPT2LMHeadModel
torch.manual_seed(0)
m = GPT2LMHeadModel(GPT2Config()).cuda().eval()
m.generation_config.cache_implementation = "static"
# generate() compiles the forward itself when the cache is static (generation_config.compile_config)
res = {}
for P in (128, 1000 - 129):
    ids = torch.randint(0, 50257, (1, P), device='cuda')
    kw = dict(do_sample=False, pad_token_id=50256)
    t0 = time.perf_counter()
    for _ in range(3): m.generate(ids, max_new_tokens=128, min_new_tokens=128, **kw)
    torch.cuda.synchronize(); warm = time.perf_counter() - t0
    def t(n):
        xs = []
        for _ in range(5):
            torch.cuda.synchronize(); t0 = time.perf_counter(); m.generate(ids, max_new_tokens=n, min_new_tokens=n, **kw); torch.cuda.synchronize(); xs.append(time.perf_counter() - t0)
        return sorted(xs)[2]
    t1, t129 = t(1), t(129)
    res[P] = {'ttft_ms': 1e3 * t1, 'itl_ms': 1e3 * (t129 - t1) / 128, 'warmup_s': warm}
    print('compiled static-cache fp32 P', P, json.dumps({k: round(v, 3) for k, v in res[P].items()}), flush=True)
json.dump(res, open(os.path.join(os.environ.get('OUT', '/tmp'), 'torch_compiled.json'), 'w'))
