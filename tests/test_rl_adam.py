"""BlockedAdam (lea.rl.adam) against torch.optim.Adam: the same weights and state bit for bit, with its native C
kernels (where a compiler is found) and with torch's."""

from __future__ import annotations

import pytest
import torch

from lea.rl import adam as lea_adam
from lea.rl.adam import BlockedAdam

HAVE_NATIVE = lea_adam.native_kernels() is not None
NATIVE = [False, pytest.param(True, marks=pytest.mark.skipif(not HAVE_NATIVE, reason="no C compiler"))]

# shapes that cut across chunk boundaries, tails shorter than a SIMD vector, and a tensor smaller than a chunk
SHAPES = [(300, 257), (1000,), (7,), (33, 65), (1,)]


def run(make_opt, steps: int, shapes=SHAPES, skip_grad: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=g).requires_grad_() for s in shapes]
    opt = make_opt(params)
    for i in range(steps):
        for j, p in enumerate(params):
            # gradients of mixed scales with zeros (v = 0 on some elements), a parameter without a gradient now and
            # then (Adam skips it)
            p.grad = (
                None
                if skip_grad is not None and (i + j) % skip_grad == 0
                else torch.randn(p.shape, generator=g) * 10.0 ** (-(i % 4)) * (torch.rand(p.shape, generator=g) > 0.2)
            )
        opt.step()
    return [p.detach().clone() for p in params], opt


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("chunk", [64, 192, 4096, 65536])
@pytest.mark.parametrize("skip_grad", [None, 3])
def test_blocked_adam_is_bit_identical_to_torch(chunk, skip_grad, native):
    """25 steps at several chunk sizes: weights and both moments equal torch's foreach and per-tensor Adam exactly."""
    lr = 3e-3
    ref, ref_opt = run(lambda ps: torch.optim.Adam(ps, lr=lr, foreach=True), 25, skip_grad=skip_grad)
    loop, _ = run(lambda ps: torch.optim.Adam(ps, lr=lr, foreach=False), 25, skip_grad=skip_grad)
    got, opt = run(lambda ps: BlockedAdam(ps, lr=lr, chunk=chunk, native=native), 25, skip_grad=skip_grad)
    assert (opt.native is not None) is native
    assert same(ref, loop) and same(ref, got)
    assert not same(ref, run(lambda ps: torch.optim.Adam(ps, lr=lr * 1.01), 25, skip_grad=skip_grad)[0])  # not vacuous
    for sr, sg in zip(ref_opt.state.values(), opt.state.values(), strict=True):
        assert sr.keys() == sg.keys()
        assert all(torch.equal(sr[k], sg[k]) for k in sr)


@pytest.mark.parametrize("native", NATIVE)
def test_blocked_adam_state_dict_is_torchs(native):
    """A checkpoint of BlockedAdam resumes in torch's Adam and the reverse, with the same result as no switch."""
    g = torch.Generator().manual_seed(1)
    init = [torch.randn(s, generator=g) for s in SHAPES]
    grads = [[torch.randn(s, generator=g) for s in SHAPES] for _ in range(10)]

    def train(first, second):
        ps = [x.clone().requires_grad_() for x in init]
        opt = first(ps)
        for i in range(10):
            if i == 5:  # the checkpoint: a new optimizer of the other kind loads the state dict
                sd = opt.state_dict()
                opt = second(ps)
                opt.load_state_dict(sd)
            for p, gr in zip(ps, grads[i]):
                p.grad = gr.clone()
            opt.step()
        return [p.detach() for p in ps]

    def torch_adam(ps):
        return torch.optim.Adam(ps, lr=1e-2, foreach=True)

    def blocked(ps):
        return BlockedAdam(ps, lr=1e-2, chunk=64, native=native)

    ref = train(torch_adam, torch_adam)
    assert same(ref, train(blocked, torch_adam)) and same(ref, train(torch_adam, blocked))


def test_blocked_adam_falls_back_to_torch_outside_the_plain_update():
    """amsgrad, weight decay or a non-contiguous parameter: torch's own step, the same result as torch's Adam."""
    for kw in ({"amsgrad": True}, {"weight_decay": 0.1}, {"maximize": True}):
        ref, _ = run(lambda ps, kw=kw: torch.optim.Adam(ps, lr=1e-3, foreach=True, **kw), 5)
        got, _ = run(lambda ps, kw=kw: BlockedAdam(ps, lr=1e-3, chunk=64, **kw), 5)
        assert same(ref, got)
    base = torch.randn(40, 30)
    p_ref, p_got = base.clone().t().requires_grad_(), base.clone().t().requires_grad_()  # non-contiguous
    o_ref, o_got = torch.optim.Adam([p_ref], lr=1e-3), BlockedAdam([p_got], lr=1e-3, chunk=64)
    for _ in range(3):
        gr = torch.randn(30, 40)
        p_ref.grad, p_got.grad = gr.clone(), gr.clone()
        o_ref.step()
        o_got.step()
    assert torch.equal(p_ref, p_got)


@pytest.mark.parametrize("chunk", [0, 100, -64])
def test_blocked_adam_rejects_a_chunk_off_the_simd_grid(chunk):
    with pytest.raises(ValueError, match="multiple of 64"):
        BlockedAdam([torch.zeros(3, requires_grad=True)], chunk=chunk)


@pytest.mark.parametrize("native", NATIVE)
def test_blocked_adam_is_bit_identical_with_two_threads(native):
    """With two threads torch splits a kernel's range across them at other points than a chunk's; still exact."""
    shapes = [(70001,), (300, 257)]
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        ref, _ = run(lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True), 6, shapes=shapes)
        got, _ = run(lambda ps: BlockedAdam(ps, lr=1e-3, chunk=4096, native=native), 6, shapes=shapes)
    finally:
        torch.set_num_threads(n)
    assert same(ref, got)


@pytest.mark.skipif(not HAVE_NATIVE, reason="no C compiler")
def test_native_kernels_that_differ_from_torch_are_refused(monkeypatch):
    """The self-check is not vacuous: the moments' lerp without torch's fused multiply-add fails it."""
    good = lea_adam._compile()
    assert good is not None and lea_adam._self_check(good)
    wrong = lea_adam.NATIVE_SOURCE.replace("fmaf(w1, gi - m[i], m[i])", "w1 * (gi - m[i]) + m[i]")
    assert wrong != lea_adam.NATIVE_SOURCE
    monkeypatch.setattr(lea_adam, "NATIVE_SOURCE", wrong)
    bad = lea_adam._compile()
    assert bad is not None and not lea_adam._self_check(bad)


def test_without_a_compiler_torch_kernels_are_used(without_c_compiler):
    """No C compiler: no native kernels, the same result through torch's; native=True then says so."""
    assert lea_adam._compile() is None
    ref, _ = run(lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True), 5)
    got, opt = run(lambda ps: BlockedAdam(ps, lr=1e-3, chunk=64), 5)
    assert opt.native is None and same(ref, got)
    with pytest.raises(RuntimeError, match="did not compile"):
        BlockedAdam([torch.zeros(3, requires_grad=True)], native=True)
