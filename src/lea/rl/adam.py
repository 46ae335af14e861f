"""Adam with a cache-blocked update: torch's foreach Adam, bit for bit, in a fraction of the time.

torch's foreach Adam (``torch.optim.adam._multi_tensor_adam``, capturable off) updates every parameter in seven
elementwise passes (Kingma & Ba, Algorithm 1, in torch's order):

    m <- lerp(m, g, 1 - beta1)                     # m = beta1 m + (1 - beta1) g
    v <- v * beta2;  v <- v + (1 - beta2) g * g
    d <- sqrt(v);  d <- d / sqrt(1 - beta2^t);  d <- d + eps
    p <- p + (-lr / (1 - beta1^t)) * m / d

On the CPU each pass is one kernel over the whole tensor. For the recommender's heads on the LLM LE's 576-d state
([n_items, 640] each) the tensors do not fit in a core's L2 cache, so every pass streams them from L3 or memory, and
the update is a third of a training step (benchmarks/bench_rec.py). `BlockedAdam` works on one slice of ``chunk``
elements at a time, so a slice's passes run in L2, in one of two ways:

- ``native`` (the default where a C compiler is found): two small C kernels compiled at first use (``NATIVE_SOURCE``,
  lea.native), one for the moments and one for the step, around torch's own sqrt of the slice. They repeat torch's
  arithmetic per element: lerp as torch's fused multiply-add, addcmul as a fused multiply-add of ((1 - beta2) g) g
  onto beta2 v, then IEEE division and addition in torch's order, with every scalar rounded to fp32 as torch's
  kernels round it. torch's sqrt is kept because on this build it is not the correctly rounded IEEE sqrt (MKL's
  vector sqrt: about 0.7% of elements differ from it by one unit), so no C sqrt would match it. That sqrt is also
  45x slower on zeros than on other values (v is 0 on every row that has had no gradient yet, such as the Q-head's
  rows of items not drawn yet), so the kernels give it 1 in place of each 0 and put sqrt(0) = 0 back.
- ``torch``: the same seven torch kernels with the same scalars, slice by slice.

Why the result is the same bit for bit: every pass is elementwise, and each kernel computes an element the same way
wherever it sits in the range it is given (checked for torch's kernels on slices of odd lengths, tails shorter
than a SIMD vector and two threads). tests/test_rl_adam.py checks the weights and the optimizer state of both ways
against torch.optim.Adam (foreach, and the per-tensor loop) over many steps, on shapes that cut across slices;
tests/test_rl_switches.py checks whole recommender runs. The native kernels also check themselves against torch's
passes once per process (`native_kernels`) and are not used if they disagree.

Anything but the plain configuration (amsgrad, weight decay, maximize, capturable, differentiable, fused, a tensor
lr, beta1 <= 0.5, complex or non-fp32 parameters, non-contiguous tensors, a closure) runs torch's own step. The
state dict is torch.optim.Adam's, so checkpoints load either way.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import torch
from torch import Tensor

from lea import native as lea_native

CHUNK = 65536  # elements: 256 KB a tensor, five tensors of a slice (p, g, m, v, d) in a 2 MB L2 (bench_rec.py)
ALIGN = 64  # a chunk is a multiple of this (two AVX-512 vectors of fp32 are 32; 64 leaves a margin)

NATIVE_SOURCE = r"""
#include <math.h>
#include <stdint.h>
/* torch's foreach Adam in fp32, per element (lea/rl/adam.py): the moments and sqrt's input s; then, after
   torch.sqrt(s) in place, the step */
void lea_adam_moments(const float *restrict g, float *restrict m, float *restrict v, float *restrict s, int64_t n,
                      float w1, float beta2, float c2) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    m[i] = fmaf(w1, gi - m[i], m[i]);        /* lerp_(g, w1): torch's fmadd(w, end - start, start) for w < 0.5 */
    float vi = fmaf(c2 * gi, gi, v[i] * beta2); /* mul_(beta2), then addcmul_(g, g, value=c2) */
    v[i] = vi;
    s[i] = vi != 0.0f ? vi : 1.0f;           /* torch's sqrt is slow on zeros; sqrt(0) = 0 is put back below */
  }
}
void lea_adam_params(float *restrict p, const float *restrict m, const float *restrict v, const float *restrict s,
                     int64_t n, float bc2s, float eps, float step_size) {
  for (int64_t i = 0; i < n; i++) {
    float di = (v[i] != 0.0f ? s[i] : 0.0f) / bc2s + eps; /* sqrt(v), div_(sqrt(1 - beta2^t)), add_(eps) */
    p[i] = p[i] + (step_size * m[i]) / di;   /* addcdiv_(m, d, value=-lr / (1 - beta1^t)) */
  }
}
"""


class _Native:
    def __init__(self, lib: ctypes.CDLL) -> None:
        f32, ptr, i64 = ctypes.c_float, ctypes.c_void_p, ctypes.c_int64
        self.moments = lib.lea_adam_moments
        self.moments.argtypes = [ptr, ptr, ptr, ptr, i64, f32, f32, f32]
        self.moments.restype = None
        self.params = lib.lea_adam_params
        self.params.argtypes = [ptr, ptr, ptr, ptr, i64, f32, f32, f32]
        self.params.restype = None
        self.lib = lib  # kept alive with the functions


def _compile() -> _Native | None:
    lib = lea_native.load(NATIVE_SOURCE)
    return None if lib is None else _Native(lib)


def _self_check(native: _Native) -> bool:
    """Three Adam steps of the native kernels against torch's passes on values of many scales, exactly."""
    g = torch.Generator().manual_seed(0)
    n = 4099  # a vector tail, too
    p = torch.randn(n, generator=g)
    ref, mine = (BlockedAdam([p.clone().requires_grad_()], native=False) for _ in range(2))
    mine.native = native  # (not native=None: that would call native_kernels again, from inside itself)
    for _ in range(3):
        grad = torch.randn(n, generator=g) * 10.0 ** torch.randint(-12, 2, (n,), generator=g).float()
        grad[torch.rand(n, generator=g) < 0.3] = 0.0  # v stays 0 on some elements
        for opt in (ref, mine):
            opt.param_groups[0]["params"][0].grad = grad.clone()
            opt.step()
    a, b = ref.param_groups[0]["params"][0], mine.param_groups[0]["params"][0]
    sa, sb = ref.state[a], mine.state[b]
    return torch.equal(a, b) and all(torch.equal(sa[k], sb[k]) for k in ("exp_avg", "exp_avg_sq"))


@functools.cache
def native_kernels() -> _Native | None:
    """The C kernels, compiled once per process and checked against torch; None without a compiler or a match."""
    native = _compile()
    return native if native is not None and _self_check(native) else None


class BlockedAdam(torch.optim.Adam):
    """torch.optim.Adam (foreach) whose plain update runs slice by slice (the module docstring).

    ``native``: None (default) uses the C kernels where they compile and pass their check, else torch's kernels;
    False always torch's kernels; True requires the C kernels (RuntimeError without them)."""

    def __init__(self, params: Any, lr: float = 1e-3, chunk: int | None = None, native: bool | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        chunk = CHUNK if chunk is None else chunk  # read at call time (a test cuts the recommender's tensors)
        if chunk <= 0 or chunk % ALIGN:
            raise ValueError(f"BlockedAdam: chunk must be a positive multiple of {ALIGN}, got {chunk}")
        super().__init__(params, lr=lr, foreach=True, **kwargs)
        self.chunk = chunk
        self.native = None if native is False else native_kernels()
        if native is True and self.native is None:
            raise RuntimeError("BlockedAdam(native=True): the C kernels did not compile or did not match torch's")
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
            or group["betas"][0] <= 0.5  # lerp's weight 1 - beta1 >= 0.5 takes torch's other formula
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
        nat = self.native
        if nat is not None:  # addresses of each slice by offset (fp32: 4 bytes), no slice tensors made
            pp, gp, mp, vp, dp = (t.data_ptr() for t in (p, g, m, v, self._buf))
            for a in range(0, n, c):
                k, o = min(c, n - a), 4 * a
                nat.moments(gp + o, mp + o, vp + o, dp, k, 1 - beta1, beta2, 1 - beta2)
                d = self._buf[:k]
                torch.sqrt(d, out=d)
                nat.params(pp + o, mp + o, vp + o, dp, k, bias_correction2_sqrt, eps, step_size)
            return
        for a in range(0, n, c):
            b = min(n, a + c)
            pc, gc, mc, vc, d = p[a:b], g[a:b], m[a:b], v[a:b], self._buf[: b - a]
            mc.lerp_(gc, 1 - beta1)
            vc.mul_(beta2)
            vc.addcmul_(gc, gc, value=1 - beta2)
            torch.sqrt(vc, out=d)
            d.div_(bias_correction2_sqrt)
            d.add_(eps)
            pc.addcdiv_(mc, d, value=step_size)
