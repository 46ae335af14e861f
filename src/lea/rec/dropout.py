"""Dropout whose mask draw is a C kernel: torch's nn.Dropout bit for bit, with the same random stream.

On the CPU, ``nn.Dropout`` in training computes ``input * (bernoulli_(empty_like(input), 1 - p) / (1 - p))``, and
torch's ``bernoulli_`` with a scalar probability is a serial loop over the default generator (a Mersenne Twister,
``at::mt19937``): per element two 32-bit outputs make a 64-bit word, its low 53 bits times 2^-53 a uniform double u,
and the element is ``u < 1 - p``. On SASRec's [100, 10, 64] activations that loop took a tenth of a training step
of LEASR with the 576-d LE state (benchmarks/bench_rec.py's profile, 2026-12-07).

`Dropout` draws the same mask with the same generator: it reads the default generator's state
(``torch.get_rng_state``: the twister's 624 words, its position), runs the same twister and the same arithmetic in
C (``SOURCE``, lea.native), and writes the advanced state back, so every later draw (the next dropout, the batch
order's generator is separate) is what it would have been. The rest is torch's own ops in torch's order (the
division of the mask, the product, its gradient), so outputs and gradients are the same bit for bit
(tests/test_rec_dropout.py; tests/test_rl_switches.py for whole runs). The threshold is compared in double, as
torch compares it: of 60 million draws at p = 0.9 (seed 0), the two uniforms between fp32(0.9) and 0.9 came out 1
in torch's mask and in this one, and the two masks were equal (2026-12-07).

It falls back to ``torch.nn.functional.dropout`` outside that case: not training, p not strictly between 0 and 1,
an input that is not a contiguous fp32 CPU tensor, no C compiler, or kernels that fail their check against torch's
``bernoulli_`` (once per process).
"""

from __future__ import annotations

import ctypes
import functools

import torch
import torch.nn.functional as F
from torch import nn

from lea import native as lea_native

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* at::mt19937 on the state bytes of torch.get_rng_state() (CPUGeneratorImplState: uint64 seed, int32 left,
   int32 seeded, uint64 next, uint64 state[624], ...), and bernoulli_(p) on n floats as torch's serial CPU kernel.
   The twister's outputs come a refill at a time (tempering vectorised), in the order the serial loop takes them. */
#define N 624
#define M 397
static inline uint32_t twist(uint32_t u, uint32_t v) {
  return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
}
static void next_state(uint32_t *s) {
  int j;
  for (j = 0; j < N - M; j++) s[j] = s[j + M] ^ twist(s[j], s[j + 1]);
  for (; j < N - 1; j++) s[j] = s[j + M - N] ^ twist(s[j], s[j + 1]);
  s[N - 1] = s[M - 1] ^ twist(s[N - 1], s[0]);
}
static void temper(const uint32_t *restrict s, uint32_t *restrict o, int64_t k) {
  for (int64_t t = 0; t < k; t++) {
    uint32_t y = s[t];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    o[t] = y;
  }
}
int lea_bernoulli_f32(uint8_t *bytes, float *out, int64_t n, double p) {
  int32_t left;
  uint64_t next64, w;
  uint32_t s[N];
  uint32_t *o = malloc(sizeof(uint32_t) * 2 * (size_t)n);
  if (!o) return 1;
  memcpy(&left, bytes + 8, 4);
  memcpy(&next64, bytes + 16, 8);
  for (int j = 0; j < N; j++) { memcpy(&w, bytes + 24 + 8 * j, 8); s[j] = (uint32_t)w; }
  int64_t next = (int64_t)next64, avail = left - 1, k = 0; /* the serial engine: --left == 0 refills */
  while (k < 2 * n) {
    if (avail == 0) { next_state(s); next = 0; avail = N; }
    int64_t take = avail < 2 * n - k ? avail : 2 * n - k;
    temper(s + next, o + k, take);
    next += take; avail -= take; k += take;
  }
  const double scale = 1.0 / (double)(UINT64_C(1) << 53);
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = (((uint64_t)o[2 * i] << 32) | o[2 * i + 1]) & ((UINT64_C(1) << 53) - 1); /* random64() */
    double u = (double)r * scale * (1.0 - 0.0) + 0.0;  /* uniform_real(0, 1) */
    out[i] = u < p ? 1.0f : 0.0f;                       /* bernoulli: u < p */
  }
  free(o);
  left = (int32_t)(avail + 1);
  memcpy(bytes + 8, &left, 4);
  next64 = (uint64_t)next;
  memcpy(bytes + 16, &next64, 8);
  for (int j = 0; j < N; j++) { w = s[j]; memcpy(bytes + 24 + 8 * j, &w, 8); }
  return 0;
}
"""


def _bernoulli_c(fn: ctypes._CFuncPtr, out: torch.Tensor, p: float) -> None:  # type: ignore[name-defined]
    state = torch.get_rng_state()  # a copy of the default generator's state
    if fn(state.data_ptr(), out.data_ptr(), out.numel(), p) != 0:
        raise MemoryError(f"lea.rec.dropout: no memory for the random words of {out.numel()} elements")
    torch.set_rng_state(state)


def _self_check(fn: ctypes._CFuncPtr) -> bool:  # type: ignore[name-defined]
    """Masks of many lengths (across the twister's 624-word refills) and the generator's state after them, against
    torch's bernoulli_, exactly; the global generator is restored afterwards."""
    saved = torch.get_rng_state()
    try:
        ok = True
        for seed, n, p in ((0, 1, 0.9), (1, 311, 0.9), (2, 2000, 0.5), (3, 64000, 0.9), (4, 5, 0.1)):
            torch.manual_seed(seed)
            ref = torch.empty(n).bernoulli_(p)
            ref_state = torch.get_rng_state()
            torch.manual_seed(seed)
            got = torch.empty(n)
            _bernoulli_c(fn, got, p)
            ok = ok and torch.equal(ref, got) and torch.equal(ref_state, torch.get_rng_state())
        return ok
    finally:
        torch.set_rng_state(saved)


@functools.cache
def native_bernoulli() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """The C mask draw, compiled once per process and checked against torch; None without a compiler or a match."""
    lib = lea_native.load(SOURCE)
    if lib is None:
        return None
    fn = lib.lea_bernoulli_f32
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_double]
    fn.restype = ctypes.c_int
    return fn if _self_check(fn) else None


def dropout(x: torch.Tensor, p: float, training: bool, native: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)``, with the mask drawn by the C kernel where it applies (the module docstring)."""
    fn = native_bernoulli() if native else None
    if (
        fn is None
        or not training
        or not 0.0 < p < 1.0
        or x.device.type != "cpu"
        or x.dtype != torch.float32
        or not x.is_contiguous()
        or x.numel() == 0
    ):
        return F.dropout(x, p, training)
    # torch's _dropout_impl: noise = empty_like(x).bernoulli_(1 - p); noise.div_(1 - p); x * noise
    noise = torch.empty_like(x)
    _bernoulli_c(fn, noise, 1 - p)
    noise.div_(1 - p)
    return x * noise


class Dropout(nn.Module):
    """``nn.Dropout(p)`` (no parameters, the same state dict) drawing its mask with the C kernel (``dropout``)."""

    def __init__(self, p: float = 0.5, native: bool = True) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.native = p, native

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training, self.native)

    def extra_repr(self) -> str:
        return f"p={self.p}, native={self.native}"
