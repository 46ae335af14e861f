"""Backbones (GRU, SASRec) and the two-headed network of SQN / SNQN / SA2C and LEA.

A state is the window of the last W items before the target, right-padded with the trainable pad item
``n_items`` and given with its true length ``lens`` (>= 1; position 0 has the all-pad state of length 1, as the
authors' code). Both backbones return ``h_t`` = the output at position ``lens - 1``.

- ``GRUBackbone``: the SQN-style GRU ("GRU4Rec-style"): one GRU layer over the padded 10-item window, state = the
  output at the true length. It is *not* the session-parallel GRU4Rec of Hidasi et al.
- ``SASRecBackbone``: learned positions, 1 block, 1 head, causal self-attention, feed-forward, final LayerNorm
  (nanoGPT-style pre-LN block; the reference's SASRec also normalises before attention and feed-forward, but adds
  the residual to the normalised input; dropout 0.1 on embeddings, attention weights and sub-layer outputs).
  With right padding, causal attention already keeps every real position from
  attending to padding (padding only follows real items); padded positions are also zeroed as in the reference.

``RecNet`` = backbone + supervised head (Eq. 7: logits over all items, the pad item is never an output) + Q-head
(Eq. 9: Q-values over all items) whose input is pluggable: ``h`` (h_t), ``le`` (s^e_t, Eq. 3) or ``le+h``
(s^e_t || h_t, Eq. 4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lea.rec.dropout import Dropout

STATE_MODES = ("h", "le", "le+h")


def _last(out: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """out [B, W, H], lens [B] (>=1) -> out[b, lens[b] - 1]."""
    idx = (lens - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, out.shape[-1])
    return out.gather(1, idx).squeeze(1)


class GRUBackbone(nn.Module):
    """Item embedding (+ trainable pad) -> one GRU layer; h_t = output at the true length.

    As the reference (``tf.nn.dynamic_rnn(GRUCell)`` over the embeddings) there is no dropout in this backbone:
    ``dropout`` is accepted for a uniform signature and ignored."""

    def __init__(self, n_items: int, hidden: int = 64, window: int = 10, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_items, self.hidden, self.window = n_items, hidden, window
        self.item_emb = nn.Embedding(n_items + 1, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        nn.init.normal_(self.item_emb.weight, 0.0, 0.01)  # reference: N(0, 0.01)

    def forward(self, states: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        x = self.item_emb(states)
        out, _ = self.gru(x)  # causal: output at lens-1 only saw the real items (right padding)
        return _last(out, lens)


class SASRecBackbone(nn.Module):
    """SASRec with 1 block and 1 head; learned positional embeddings; causal; padding masked."""

    def __init__(self, n_items: int, hidden: int = 64, window: int = 10, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_items, self.hidden, self.window = n_items, hidden, window
        self.item_emb = nn.Embedding(n_items + 1, hidden)
        self.pos_emb = nn.Embedding(window, hidden)
        self.drop = Dropout(dropout)  # nn.Dropout bit for bit, its mask drawn in C (lea.rec.dropout)
        self.ln_att = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.att_drop = dropout
        self.ln_ff = nn.LayerNorm(hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), Dropout(dropout), nn.Linear(hidden, hidden))
        self.ln_out = nn.LayerNorm(hidden)
        nn.init.normal_(self.item_emb.weight, 0.0, 0.01)
        nn.init.normal_(self.pos_emb.weight, 0.0, 0.01)

    def forward(self, states: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        _, w = states.shape
        mask = (states != self.n_items).unsqueeze(-1).to(self.item_emb.weight.dtype)  # [B, W, 1]
        pos = torch.arange(w, device=states.device)
        x = self.item_emb(states) + self.pos_emb(pos)  # as the reference: no sqrt(d) scaling
        x = self.drop(x) * mask
        q, k, v = self.qkv(self.ln_att(x)).chunk(3, dim=-1)  # 1 head: [B, W, H]
        att = F.scaled_dot_product_attention(
            q.unsqueeze(1),
            k.unsqueeze(1),
            v.unsqueeze(1),
            is_causal=True,
            dropout_p=self.att_drop if self.training else 0.0,
        ).squeeze(1)
        x = x + self.drop(self.proj(att))
        x = x + self.drop(self.ff(self.ln_ff(x)))
        x = self.ln_out(x * mask)
        return _last(x, lens)


def _reference_init(m: nn.Module) -> None:
    """As the authors' TF1 code: dense / GRU kernels Glorot-uniform, biases 0 except GRU gate biases 1.0 (TF's
    GRUCell); embeddings N(0, 0.01) are set by the backbones."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.GRU):
        h = m.hidden_size
        for name, p in m.named_parameters():
            if name.startswith("weight"):
                for k in range(3):  # r, z, n blocks separately, like TF's gate / candidate kernels
                    nn.init.xavier_uniform_(p.data[k * h : (k + 1) * h])
            elif name.startswith("bias_ih"):
                nn.init.zeros_(p)
                nn.init.constant_(p.data[: 2 * h], 1.0)  # reset and update gates
            else:
                nn.init.zeros_(p)


BACKBONES: dict[str, type[nn.Module]] = {"gru": GRUBackbone, "sasrec": SASRecBackbone}


class RecNet(nn.Module):
    """One complete network: backbone, supervised head (Eq. 7) and Q-head (Eq. 9) on a pluggable state."""

    def __init__(
        self,
        backbone: str,
        n_items: int,
        hidden: int = 64,
        window: int = 10,
        dropout: float = 0.1,
        state_mode: str = "h",
        le_dim: int = 0,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone '{backbone}' (have: {', '.join(BACKBONES)})")
        if state_mode not in STATE_MODES:
            raise ValueError(f"unknown state mode '{state_mode}' (have: {', '.join(STATE_MODES)})")
        if state_mode != "h" and le_dim <= 0:
            raise ValueError(f"state mode '{state_mode}' needs the LE state dimension (le_dim > 0)")
        self.n_items, self.state_mode, self.le_dim = n_items, state_mode, le_dim
        self.backbone = BACKBONES[backbone](n_items, hidden, window, dropout)
        q_in = {"h": hidden, "le": le_dim, "le+h": le_dim + hidden}[state_mode]
        self.sv_head = nn.Linear(hidden, n_items)  # Eq. 7: W_u h_t + b_u (softmax inside the CE, Eq. 8)
        self.q_head = nn.Linear(q_in, n_items)  # Eq. 9: W_q s_t + b_q
        self.apply(_reference_init)

    def q_input(self, h: torch.Tensor, le: torch.Tensor | None) -> torch.Tensor:
        if self.state_mode == "h":
            return h
        assert le is not None, "this network's Q-head needs the LE state"
        le = le.to(h.dtype)
        return le if self.state_mode == "le" else torch.cat([le, h], dim=-1)  # Eq. 4: s^e_t || h_t

    def forward(
        self, states: torch.Tensor, lens: torch.Tensor, le: torch.Tensor | None = None, with_q: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (h_t, supervised logits [B, n_items], Q-values [B, n_items] or None)."""
        h = self.backbone(states, lens)
        logits = self.sv_head(h)
        q = self.q_head(self.q_input(h, le)) if with_q else None
        return h, logits, q

    def q_values(self, states: torch.Tensor, lens: torch.Tensor, le: torch.Tensor | None = None) -> torch.Tensor:
        """Q-values alone (Eq. 9), for the bootstrap passes whose supervised logits nobody reads; the same backbone
        pass (and dropout draw) as ``forward``, without the [B, n_items] supervised head."""
        return self.q_head(self.q_input(self.backbone(states, lens), le))

    def scores(self, states: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Ranking scores for inference: the supervised head only (paper 3.4, 'Inference')."""
        return self.sv_head(self.backbone(states, lens))
