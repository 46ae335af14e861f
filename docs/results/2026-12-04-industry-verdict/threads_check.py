"""Does a torch thread count change the numbers of an LLM step? SmolLM2-135M (bf16, eager attention) forward and
backward on one batch of 8 x 48 token ids at 1, 2, then again 1 thread; prints whether the losses, last hidden
states and gradients agree bit for bit. --timing: four steps at two threads instead, their seconds (run it beside
busy jobs with OMP_WAIT_POLICY=ACTIVE and =PASSIVE to compare). Repository root, resources/llm/smollm2/hf made."""

import sys
import time

import torch
from transformers import AutoModelForCausalLM

m = AutoModelForCausalLM.from_pretrained(
    "resources/llm/smollm2/hf", torch_dtype=torch.bfloat16, attn_implementation="eager"
)
ids = torch.randint(0, 49000, (8, 48), generator=torch.Generator().manual_seed(0))
if "--timing" in sys.argv:
    torch.set_num_threads(2)
    for _ in range(4):
        t = time.time()
        m.zero_grad()
        m(input_ids=ids, labels=ids).loss.backward()
        print(round(time.time() - t, 2), end=" ")
    print()
    sys.exit()
res = []
for t in (1, 2, 1):
    torch.set_num_threads(t)
    m.zero_grad()
    out = m(input_ids=ids, labels=ids, output_hidden_states=True)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
    res.append((out.loss.detach().clone(), out.hidden_states[-1].detach().clone(), grads))
(a, b, c) = res
print("1 thread twice: loss equal", torch.equal(a[0], c[0]), "| hidden equal", torch.equal(a[1], c[1]),
      "| gradients differing", sum(not torch.equal(a[2][n], c[2][n]) for n in a[2]), "of", len(a[2]))  # fmt: skip
print(f"1 vs 2 threads: loss {a[0].item():.7g} / {b[0].item():.7g} | hidden equal", torch.equal(a[1], b[1]),
      "| gradients differing", sum(not torch.equal(a[2][n], b[2][n]) for n in a[2]), "of", len(a[2]))  # fmt: skip
