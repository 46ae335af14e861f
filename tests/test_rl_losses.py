"""The loss terms on a tiny network with fixed weights, against values computed by hand (Eq. 8, 10, 11, 13, 14,
15 and the double-Q target of Algorithm 1), and each LE switch changing the loss exactly as its equation says.

Tiny network: n_items = 3 (pad = 3), hidden = 2, h_t = E[last item of the state] with
E = {0: [1, 0], 1: [0, 1], 2: [1, 1], pad: [0, 0]}.
Main Q-head W_q rows [1, 0], [0, 2], [2, -1]   -> Q(h) = [h0, 2 h1, 2 h0 - h1]
Target Q-head rows  [0, 3], [0, 1], [1, 0]    -> Q'(h) = [3 h1, h1, h0]
Supervised head rows [1, 0], [0, 1], [0, 0]   -> logits(h) = [h0, h1, 0]
Transition A: s = [0] (h = [1, 0]), a+ = 1, s' = [0, 1] (h = [0, 1]), a- = 0.
  Q(s) = [1, 0, 2], Q(s') = [0, 2, -1] -> a* = 1 (the target's own argmax would be 0), Q'(s') = [3, 1, 0]
  L_p = 0.5 (1 + 0.5 * Q'(s', 1) - Q(s, 1))^2 = 0.5 (1 + 0.5 - 0)^2 = 1.125     (done: 0.5 (1 - 0)^2 = 0.5)
  L_n: a*_neg = argmax Q(s) = 2, Q'(s) = [0, 0, 1] -> 0.5 (0 + 0.5 * 1 - Q(s, 0))^2 = 0.5 (0.5 - 1)^2 = 0.125
Transition B: s = [1] (h = [0, 1]), a+ = 1, s' = [1, 1] (h = [0, 1]), a- = 2.
  Q(s) = [0, 2, -1]; A = (Q(s, a+) - Q(s, a-)) / 2 = (2 + 1) / 2 = 1.5
"""

import math

import pytest
import torch
from torch import nn

from lea.rec.backbones import RecNet
from lea.rl import losses as L
from lea.rl.train import compute_losses

torch.set_num_threads(1)
E = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


class LastItem(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding.from_pretrained(E.clone(), freeze=False)

    def forward(self, states, lens):
        return self.emb(states.gather(1, (lens - 1).view(-1, 1)).squeeze(1))


def tiny(wq, state_mode="h", le_dim=0):
    net = RecNet("gru", 3, hidden=2, window=2, dropout=0.0, state_mode=state_mode, le_dim=le_dim)
    net.backbone = LastItem()
    with torch.no_grad():
        net.sv_head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        net.sv_head.bias.zero_()
        net.q_head.weight.copy_(torch.tensor(wq))
        net.q_head.bias.zero_()
    return net


MAIN_W = [[1.0, 0.0], [0.0, 2.0], [2.0, -1.0]]
TGT_W = [[0.0, 3.0], [0.0, 1.0], [1.0, 0.0]]


def batch(done=(False, False), **extra):
    b = {
        "state": torch.tensor([[0, 3], [1, 3]]),
        "length": torch.tensor([1, 1]),
        "action": torch.tensor([1, 1]),
        "next_state": torch.tensor([[0, 1], [1, 1]]),
        "next_length": torch.tensor([2, 2]),
        "done": torch.tensor(done),
        "neg_items": torch.tensor([[0], [2]]),
        "pos_reward": torch.tensor([1.0, 1.0]),
        "neg_reward": torch.tensor([[0.0], [0.0]]),
    }
    b.update(extra)
    return b


def ce(logits, t):
    return -logits[t] + math.log(sum(math.exp(x) for x in logits))


CE_A = ce([1.0, 0.0, 0.0], 1)  # logits(h = [1, 0]) on a+ = 1
CE_B = ce([0.0, 1.0, 0.0], 1)
# transition B by hand: Q(s') = [0, 2, -1] -> a* = 1, Q'(s') = [3, 1, 0] -> 1; L_p = 0.5 (1 + 0.5 - 2)^2 = 0.125
# L_n: argmax Q(s) = 1, Q'(s) = [3, 1, 0] -> 1; 0.5 (0 + 0.5 - Q(s, 2))^2 = 0.5 (0.5 + 1)^2 = 1.125
LP = [1.125, 0.125]
LN = [0.125, 1.125]


def losses(variant=None, **kw):
    b = kw.pop("b", None) or batch()
    return compute_losses(
        tiny(MAIN_W), tiny(TGT_W), b, framework=kw.pop("framework", "snqn"), variant=variant or {}, gamma=0.5, **kw
    )


def test_double_q_selects_by_main_evaluates_by_target():
    q_main = torch.tensor([[0.0, 2.0, -1.0]])
    q_tgt = torch.tensor([[3.0, 1.0, 0.0]])
    assert L.double_q_next(q_main, q_tgt).item() == 1.0  # not max(q_tgt) = 3, not max(q_main) = 2


def test_td_loss_by_hand():
    v = L.td_loss(
        torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0]), 0.5, torch.tensor([False, True])
    )
    assert v.tolist() == pytest.approx([1.125, 0.5])  # target zeroed at the end


def test_snqn_terms_by_hand():
    out = losses()
    assert out["l_p"].item() == pytest.approx(sum(LP) / 2)
    assert out["l_n"].item() == pytest.approx(sum(LN) / 2)
    assert out["l_h"].item() == pytest.approx((CE_A + CE_B) / 2)
    assert out["total"].item() == pytest.approx((sum(LP) + sum(LN) + CE_A + CE_B) / 2)
    done = losses(b=batch(done=(True, False)))
    assert done["l_p"].item() == pytest.approx((0.5 + LP[1]) / 2)  # 0.5 (1 - 0)^2 at the end of a sequence
    assert done["l_n"].item() == pytest.approx(sum(LN) / 2)  # negatives are never zeroed


def test_gradient_only_through_main():
    main, tgt = tiny(MAIN_W), tiny(TGT_W)
    out = compute_losses(main, tgt, batch(), framework="snqn", variant={}, gamma=0.5)
    out["total"].backward()
    assert main.q_head.weight.grad is not None and main.q_head.weight.grad.abs().sum() > 0
    assert tgt.q_head.weight.grad is None


def test_sa2c_advantage_and_clip():
    q_pos, q_neg = torch.tensor([0.0, 2.0]), torch.tensor([[1.0], [-1.0]])
    assert L.advantage(q_pos, q_neg, 10.0).tolist() == pytest.approx([0.0, 1.5])  # Eq. 11, clipped at 0
    assert L.advantage(q_pos, q_neg, 1.0).tolist() == pytest.approx([0.0, 1.0])  # clipped at the top
    k3 = L.advantage(torch.tensor([4.0]), torch.tensor([[1.0, 2.0, 1.0]]), 10.0)
    assert k3.item() == pytest.approx(4.0 - 2.0)  # K negatives: Q+ - mean(Q+, Q-_1..K)
    warm = losses(framework="sa2c")
    assert warm["total"].item() == pytest.approx((sum(LP) + sum(LN) + CE_A + CE_B) / 2)
    post = losses(framework="sa2c", weighted_ce=True)
    assert post["total"].item() == pytest.approx((sum(LP) + sum(LN) + 0.0 * CE_A + 1.5 * CE_B) / 2)
    clipped = losses(framework="sa2c", weighted_ce=True, advantage_clip=1.0)
    assert clipped["total"].item() == pytest.approx((sum(LP) + sum(LN) + 1.0 * CE_B) / 2)


def test_normal_is_cross_entropy_only():
    out = losses(framework="normal")
    assert set(out) == {"l_h", "total"}
    assert out["total"].item() == pytest.approx((CE_A + CE_B) / 2)


def test_reward_switch_le():
    b = batch(pos_reward=torch.tensor([0.3, 0.7]), neg_reward=torch.tensor([[0.2], [0.4]]))
    out = losses({"reward": "le"}, b=b)
    lp = [0.5 * (0.3 + 0.5 - 0.0) ** 2, 0.5 * (0.7 + 0.5 - 2.0) ** 2]
    ln = [0.5 * (0.2 + 0.5 - 1.0) ** 2, 0.5 * (0.4 + 0.5 + 1.0) ** 2]
    assert out["l_p"].item() == pytest.approx(sum(lp) / 2)
    assert out["l_n"].item() == pytest.approx(sum(ln) / 2)


def test_augment_sv_and_q():
    extra = {"aug_item": torch.tensor([2, 0]), "aug_reward": torch.tensor([0.5, 0.25])}
    base = losses(b=batch(**extra))["total"].item()
    sv = losses({"augment": "sv", "w_ah": 0.1}, b=batch(**extra))
    l_ah = [ce([1.0, 0.0, 0.0], 2), ce([0.0, 1.0, 0.0], 0)]  # Eq. 13 on a^e
    assert sv["l_ah"].item() == pytest.approx(sum(l_ah) / 2)
    assert sv["total"].item() == pytest.approx(base + 0.1 * sum(l_ah) / 2)
    q = losses({"augment": "q", "w_aq": 0.01}, b=batch(**extra))
    # Eq. 14: 0.5 (r^e + gamma Q'(s', argmax Q(s')) - Q(s, a^e))^2; Q'(s', a*) = 1 for both transitions
    l_aq = [0.5 * (0.5 + 0.5 * 1.0 - 2.0) ** 2, 0.5 * (0.25 + 0.5 * 1.0 - 0.0) ** 2]
    assert q["l_aq"].item() == pytest.approx(sum(l_aq) / 2)
    assert q["total"].item() == pytest.approx(base + 0.01 * sum(l_aq) / 2)
    both = losses({"augment": "sv+q", "w_ah": 0.1, "w_aq": 0.01}, b=batch(**extra))
    assert both["total"].item() == pytest.approx(base + 0.1 * sum(l_ah) / 2 + 0.01 * sum(l_aq) / 2)
    # SA2C after the warm-up: the advantage weights L_h only, not L_ah (our documented choice)
    sa = losses({"augment": "sv", "w_ah": 0.1}, b=batch(**extra), framework="sa2c", weighted_ce=True)
    assert sa["total"].item() == pytest.approx((sum(LP) + sum(LN) + 1.5 * CE_B + 0.1 * sum(l_ah)) / 2)


@pytest.mark.parametrize("mode", ["le", "le+h"])
def test_state_switch_random_external_states(mode):
    g = torch.Generator().manual_seed(1)
    d = 3
    le, le_next = torch.randn(2, d, generator=g), torch.randn(2, d, generator=g)
    width = d if mode == "le" else d + 2
    wm, wt = torch.randn(3, width, generator=g), torch.randn(3, width, generator=g)
    main, tgt = tiny(wm.tolist(), mode, d), tiny(wt.tolist(), mode, d)
    b = batch(le=le, le_next=le_next)
    out = compute_losses(main, tgt, b, framework="snqn", variant={"state": mode}, gamma=0.5)
    h = E[torch.tensor([0, 1])]
    h_next = E[torch.tensor([1, 1])]

    def s_of(x, hh):  # Eq. 3 (s^e_t) or Eq. 4 (s^e_t || h_t)
        return x if mode == "le" else torch.cat([x, hh], 1)

    q_s, q_s_next = s_of(le, h) @ wm.T, s_of(le_next, h_next) @ wm.T
    qt_s, qt_s_next = s_of(le, h) @ wt.T, s_of(le_next, h_next) @ wt.T
    lp = ln = 0.0
    for i, (a, neg) in enumerate([(1, 0), (1, 2)]):
        tp = 1.0 + 0.5 * qt_s_next[i, q_s_next[i].argmax()] - q_s[i, a]
        tn = 0.0 + 0.5 * qt_s[i, q_s[i].argmax()] - q_s[i, neg]
        lp += 0.5 * tp.item() ** 2 / 2
        ln += 0.5 * tn.item() ** 2 / 2
    assert out["l_p"].item() == pytest.approx(lp, rel=1e-5)
    assert out["l_n"].item() == pytest.approx(ln, rel=1e-5)
    assert out["l_h"].item() == pytest.approx((CE_A + CE_B) / 2)  # the supervised head still reads h_t


def test_argmax_rows_is_torch_argmax():
    """argmax_rows (torch.max's indices) gives torch.argmax's index on every row: ties (the first), inf and NaN."""
    g = torch.Generator().manual_seed(0)
    for trial in range(20):
        q = torch.randint(0, 4, (100, 5047), generator=g).float()  # many ties in every row
        if trial % 4 == 0:
            q[:, 7] = float("inf")
        if trial % 5 == 0:
            q[3, 100], q[3, 50] = float("nan"), float("nan")
        assert torch.equal(L.argmax_rows(q), q.argmax(dim=1, keepdim=True))
    q = torch.randn(64, 300, generator=g)
    assert torch.equal(L.argmax_rows(q), q.argmax(dim=1, keepdim=True))
