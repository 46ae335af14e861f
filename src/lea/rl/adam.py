"""Adam with a cache-blocked update: torch's foreach Adam, bit for bit, in a fraction of the memory traffic.

torch's foreach Adam (``torch.optim.adam._multi_tensor_adam``, capturable off) updates every parameter in seven
elementwise passes (Kingma & Ba, Algorithm 1, in torch's order):

    m <- lerp(m, g, 1 - beta1)                     # m = beta1 m + (1 - beta1) g
    v <- v * beta2;  v <- v + (1 - beta2) g * g
    d <- sqrt(v);  d <- d / sqrt(1 - beta2^t);  d <- d + eps
    p <- p + (-lr / (1 - beta1^t)) * m / d

On the CPU each pass is one kernel over the whole tensor. For the recommender's heads on the LLM LE's 576-d state
([n_items, 640] each) the tensors do not fit in a core's L2 cache, so every pass streams them from L3 or memory, and
the update is over a third of a training step (benchmarks/bench_rec.py). `BlockedAdam` runs the same seven kernels
with the same scalars on one slice of ``chunk`` elements at a time, so a slice's passes run in L2.

Why the result is the same bit for bit: each pass is elementwise, so an element's value depends only on its own
inputs and on the kernel's code path. A CPU kernel runs its vectorised path over whole blocks of two SIMD vectors
from the start of the range it is given and its scalar path over the rest; a chunk is a multiple of 64 elements
(two AVX-512 vectors of fp32 are 32) and starts at a multiple of it, so every element takes the path it takes in
the whole-tensor pass, the last slice ending in the tensor's own tail. tests/test_rl_adam.py checks the weights and
the optimizer state against torch.optim.Adam (foreach, and the per-tensor loop) over many steps, on shapes that cut
across chunk boundaries; tests/test_rl_switches.py checks whole recommender runs.

Anything but the plain configuration (amsgrad, weight decay, maximize, capturable, differentiable, fused, a tensor
lr, complex or non-fp32 parameters, non-contiguous tensors, a closure) runs torch's own step. The state dict is
torch.optim.Adam's, so checkpoints load either way.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

CHUNK = 65536  # elements: 256 KB a tensor, five tensors of a slice (p, g, m, v, d) in a 2 MB L2 (bench_rec.py)
ALIGN = 64  # a chunk is a multiple of this (two AVX-512 vectors of fp32 are 32; 64 leaves a margin)


class BlockedAdam(torch.optim.Adam):
    """torch.optim.Adam (foreach) whose plain update runs chunk by chunk (the module docstring)."""

    def __init__(self, params: Any, lr: float = 1e-3, chunk: int | None = None, **kwargs: Any) -> None:
        chunk = CHUNK if chunk is None else chunk  # read at call time (a test cuts the recommender's tensors)
        if chunk <= 0 or chunk % ALIGN:
            raise ValueError(f"BlockedAdam: chunk must be a positive multiple of {ALIGN}, got {chunk}")
        super().__init__(params, lr=lr, foreach=True, **kwargs)
        self.chunk = chunk
        self._buf = torch.empty(0)

    def _plain(self, group: dict[str, Any]) -> bool:
        return not (
            group["amsgrad"]
            or group["weight_decay"] != 0
            or group["maximize"]
            or group["capturable"]
            or group["differentiable"]
            or group["fused"]
            or torch.is_tensor(group["lr"])
            or any(torch.is_tensor(b) for b in group["betas"])
        ) and all(
            p.grad is None
            or (
                p.device.type == "cpu"
                and p.dtype == torch.float32
                and p.grad.dtype == torch.float32
                and not p.grad.is_sparse
                and p.is_contiguous()
                and p.grad.is_contiguous()
            )
            for p in group["params"]
        )

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        if closure is not None or not all(self._plain(g) for g in self.param_groups):
            return super().step(closure)
        for group in self.param_groups:
            params: list[Tensor] = []
            grads: list[Tensor] = []
            exp_avgs: list[Tensor] = []
            exp_avg_sqs: list[Tensor] = []
            steps: list[Tensor] = []
            self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, [], steps)  # torch's lazy state
            if not params:
                continue
            beta1, beta2 = group["betas"]
            lr, eps = group["lr"], group["eps"]
            torch._foreach_add_(steps, torch.tensor(1.0, device="cpu"), alpha=1.0)  # as torch's foreach path
            for p, g, m, v, t in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
                # the per-tensor scalars exactly as _multi_tensor_adam computes them (Python floats)
                bias_correction1 = 1 - beta1 ** t.item()
                bias_correction2 = 1 - beta2 ** t.item()
                step_size = (lr / bias_correction1) * -1
                bias_correction2_sqrt = bias_correction2**0.5
                self._update(p.view(-1), g.view(-1), m.view(-1), v.view(-1), beta1, beta2, eps,
                             step_size, bias_correction2_sqrt)  # fmt: skip
        return None

    def _update(self, p: Tensor, g: Tensor, m: Tensor, v: Tensor, beta1: float, beta2: float, eps: float,
                step_size: float, bias_correction2_sqrt: float) -> None:  # fmt: skip
        n, c = p.numel(), self.chunk
        if self._buf.numel() < min(n, c):
            self._buf = torch.empty(min(max(n, ALIGN), c))
        for a in range(0, n, c):
            b = min(n, a + c)
            pc, gc, mc, vc = p[a:b], g[a:b], m[a:b], v[a:b]
            mc.lerp_(gc, 1 - beta1)
            vc.mul_(beta2)
            vc.addcmul_(gc, gc, value=1 - beta2)
            d = torch.sqrt(vc, out=self._buf[: b - a])
            d.div_(bias_correction2_sqrt)
            d.add_(eps)
            pc.addcdiv_(mc, d, value=step_size)
