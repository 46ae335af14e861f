"""Backbones: h_t depends only on the real items of the state (padding masked, causal), shapes of both heads,
the pad item has no output."""

import pytest
import torch

from lea.rec.backbones import RecNet

torch.set_num_threads(1)


@pytest.mark.parametrize("backbone", ["gru", "sasrec"])
def test_state_ignores_what_follows_the_true_length(backbone):
    torch.manual_seed(0)
    net = RecNet(backbone, n_items=30, hidden=16, window=5, dropout=0.1).eval()
    pad = 30
    s1 = torch.tensor([[3, 4, pad, pad, pad], [7, 8, 9, 10, 11]])
    s2 = torch.tensor([[3, 4, 17, 2, 5], [7, 8, 9, 10, 11]])  # junk after the true length 2
    lens = torch.tensor([2, 5])
    h1, logits, q = net(s1, lens)
    h2, _, _ = net(s2, lens)
    assert torch.allclose(h1, h2, atol=1e-6)
    assert logits.shape == (2, 30) and q.shape == (2, 30)  # n_items outputs: the pad item is never scored
    h3, _, _ = net(torch.tensor([[3, 5, pad, pad, pad]]), torch.tensor([2]))
    assert not torch.allclose(h1[0], h3[0])  # ... but it does depend on the real items


def test_q_head_inputs():
    net = RecNet("gru", 10, hidden=8, window=3, state_mode="le+h", le_dim=4)
    assert net.q_head.in_features == 12 and net.sv_head.in_features == 8
    with pytest.raises(ValueError, match="le_dim"):
        RecNet("gru", 10, hidden=8, window=3, state_mode="le")
