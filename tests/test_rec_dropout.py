"""lea.rec.dropout against torch's dropout: the same outputs, gradients and random stream, bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lea import native as lea_native
from lea.rec import dropout as lea_dropout
from lea.rec.dropout import Dropout, dropout

HAVE_NATIVE = lea_dropout.native_bernoulli() is not None
needs_native = pytest.mark.skipif(not HAVE_NATIVE, reason="no C compiler")


def draws(fn, shapes, p, seed):
    """Outputs and input gradients of consecutive dropouts, then the generator's state and one more draw."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(99)
    outs, grads = [], []
    for s in shapes:
        x = torch.randn(s, generator=g).requires_grad_()
        y = fn(x, p, True)
        y.backward(torch.randn(s, generator=g))
        outs.append(y.detach())
        grads.append(x.grad)
    return outs, grads, torch.get_rng_state(), torch.rand(7)


@needs_native
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 3])
def test_native_dropout_is_torchs_bit_for_bit(p, seed):
    # SASRec's activations, lengths around the twister's 624-word refill (two words an element), a single element
    shapes = [(100, 10, 64), (311,), (312,), (313,), (1,), (7, 3), (100, 10, 64)]
    ref = draws(F.dropout, shapes, p, seed)
    got = draws(dropout, shapes, p, seed)
    assert all(torch.equal(a, b) for a, b in zip(ref[0], got[0], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(ref[1], got[1], strict=True))
    assert torch.equal(ref[2], got[2]) and torch.equal(ref[3], got[3])  # the stream goes on the same
    assert any(bool((o == 0).any()) and bool((o != 0).any()) for o in got[0])  # a real mask, not all or nothing


@needs_native
def test_native_dropout_draws_the_mask_in_c(monkeypatch):
    """The kernel is used (else the test above compares torch with itself), and not outside training."""
    calls = []
    real = lea_dropout._bernoulli_c
    monkeypatch.setattr(lea_dropout, "_bernoulli_c", lambda fn, out, p: calls.append(out.shape) or real(fn, out, p))
    dropout(torch.randn(100, 10, 64), 0.1, True)
    dropout(torch.randn(3), 0.1, False)
    assert calls == [torch.Size([100, 10, 64])]


@needs_native
def test_a_kernel_that_differs_from_torch_is_refused(monkeypatch):
    """The self-check is not vacuous: the two 32-bit words of random64() in the other order fail it."""
    wrong = lea_dropout.SOURCE.replace(
        "((uint64_t)o[2 * i] << 32) | o[2 * i + 1]", "((uint64_t)o[2 * i + 1] << 32) | o[2 * i]"
    )
    assert wrong != lea_dropout.SOURCE
    lib = lea_native.load(wrong)
    assert lib is not None
    fn = lib.lea_bernoulli_f32
    fn.argtypes = lea_dropout.native_bernoulli().argtypes
    fn.restype = lea_dropout.native_bernoulli().restype
    assert not lea_dropout._self_check(fn)
    assert lea_dropout._self_check(lea_dropout.native_bernoulli())


def test_without_a_compiler_torch_draws_the_mask(without_c_compiler):
    assert lea_dropout.native_bernoulli() is None
    shapes = [(100, 10, 64), (5,)]
    ref, got = draws(F.dropout, shapes, 0.1, 0), draws(dropout, shapes, 0.1, 0)
    assert all(torch.equal(a, b) for a, b in zip(ref[0] + ref[1], got[0] + got[1], strict=True))


def test_dropout_module_is_nn_dropouts():
    m, ref = Dropout(0.1), torch.nn.Dropout(0.1)
    assert m.state_dict() == ref.state_dict() == {}
    x = torch.randn(100, 10, 64)
    assert torch.equal(m.eval()(x), x)  # evaluation: the identity, as nn.Dropout
    torch.manual_seed(1)
    ours = m.train()(x)
    torch.manual_seed(1)
    assert torch.equal(ours, ref.train()(x))
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(1.5)
