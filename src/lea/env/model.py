"""The LE model (Figure 2b): the frozen LLM + one LoRA adapter shared by all heads, item tokens as inputs_embeds,
a linear score head (reward, Eq. 1), the state read at the end of the user prompt (Eq. 2), and the position-label
choice read from the LM head's logits of " first" .. " fifth" (augmentation, paper 3.4)."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from lea.env.pack import Packed
from lea.env.prompts import Batch
from lea.llm.load import decoder

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]  # LoRA in every Transformer block's attention


class LE(nn.Module):
    def __init__(
        self,
        llm,
        item_tokens: torch.Tensor,
        label_ids: list[int],
        lora: dict | None = None,  # type: ignore[no-untyped-def]
        adapter_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        from peft import LoraConfig, PeftModel, get_peft_model

        if adapter_dir is not None:
            self.peft = PeftModel.from_pretrained(llm, str(adapter_dir), is_trainable=False)
        else:
            lora = lora or {}
            top = lora.get("lora_top_layers")
            n_layers = llm.config.num_hidden_layers
            if top is not None and not 1 <= top <= n_layers:
                raise ValueError(f"lora_top_layers must be in 1..{n_layers} (the LLM's blocks), got {top}")
            cfg = LoraConfig(
                r=lora.get("lora_r", 8),
                lora_alpha=lora.get("lora_alpha", 16),
                lora_dropout=lora.get("lora_dropout", 0.05),
                target_modules=LORA_TARGETS,
                # an approximation of ours (off by default, the paper adapts every block): LoRA in the top k blocks
                # only; the frozen blocks below then need no gradient, and autograd keeps nothing of them
                layers_to_transform=list(range(n_layers - top, n_layers)) if top is not None else None,
                bias="none",
            )
            self.peft = get_peft_model(llm, cfg)
        self.llm = llm  # LoRA layers are injected in place: calling the body runs them
        self.body = decoder(llm)
        # transformers renamed the decoder's past_key_values argument to cache; an unknown keyword is swallowed
        # silently by **kwargs (the prefix would be dropped), so ask the signature which one this version takes
        self._cache_kwarg = "cache" if "cache" in inspect.signature(self.body.forward).parameters else "past_key_values"
        d = llm.get_input_embeddings().weight.shape[1]
        hidden = llm.config.hidden_size
        if item_tokens.shape[1] != d:
            raise ValueError(f"item tokens have dimension {item_tokens.shape[1]}, the LLM's input embeddings {d}")
        if hidden != d:  # Eq. 2 compares s^e_t (hidden size) with item tokens (input-embedding size)
            raise ValueError(f"state dot product needs hidden size == embedding size, got {hidden} vs {d}")
        dev = llm.get_input_embeddings().weight.device
        self.score = nn.Linear(hidden, 1).to(dev)  # theta: r^e = score(h_last) (Eq. 1)
        if (lora or {}).get("item_token_lr") is not None and adapter_dir is None:
            # ours (docs/departures.md, "item tokens trained with the LE"): the item tokens are trained in the
            # fine-tuning with the LoRA and the score head (the paper learns them from the titles, then freezes them)
            self.item_tokens = nn.Parameter(item_tokens.float().to(dev).clone())
        else:
            self.register_buffer("item_tokens", item_tokens.float().to(dev), persistent=False)
        self.register_buffer("label_ids", torch.tensor(label_ids, device=dev), persistent=False)
        # the label reading's position prior, log-probabilities averaged over choice prompts of the LE subset
        # (set after training, see train.label_prior); subtracted at inference ("contextual calibration")
        self.register_buffer("label_bias", torch.zeros(len(label_ids), device=dev), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.item_tokens.device

    def embed(self, ids: torch.Tensor, item_at: torch.Tensor) -> torch.Tensor:
        emb = self.llm.get_input_embeddings()(ids)
        slots = item_at >= 0
        if slots.any():
            emb = emb.clone()
            emb[slots] = self.item_tokens[item_at[slots]].to(emb.dtype)
        return emb

    def hidden(self, b: Batch, past=None, use_cache: bool = False):  # type: ignore[no-untyped-def]
        """Last hidden states [B, T, d] (float32) of the LoRA-adapted body (no LM head)."""
        ids, at, att = b.ids.to(self.device), b.item_at.to(self.device), b.attention_mask.to(self.device)
        if past is not None:  # attention over the cached prefix too
            att = torch.cat(
                [torch.ones(att.shape[0], past.get_seq_length(), dtype=att.dtype, device=att.device), att], 1
            )
        kw = {self._cache_kwarg: past} if past is not None else {}
        out = self.body(inputs_embeds=self.embed(ids, at), attention_mask=att, use_cache=use_cache, **kw)
        if use_cache:
            cache = out.cache if hasattr(out, "cache") else out.past_key_values
            return out.last_hidden_state.float(), cache
        return out.last_hidden_state.float()

    def hidden_packed(self, p: Packed, body=None) -> torch.Tensor:  # type: ignore[no-untyped-def]
        """Last hidden states [R, T, d] (float32) of prefix-tree rows (lea.env.pack): the tree attention mask as a 4D
        additive mask (sdpa and eager attention both take it as is) and each node's depth as its position id.
        ``body``: the decoder to run (e.g. a torch.compile'd ``self.body``)."""
        emb = self.embed(p.ids.to(self.device), p.item_at.to(self.device))
        mask = torch.zeros(p.mask.shape, dtype=emb.dtype, device=self.device)
        mask.masked_fill_(~p.mask.to(self.device), torch.finfo(emb.dtype).min)
        out = (body if body is not None else self.body)(  # a compiled module has no truth value (__len__ raises)
            inputs_embeds=emb, attention_mask=mask, position_ids=p.position_ids.to(self.device), use_cache=False
        )
        return out.last_hidden_state.float()

    @staticmethod
    def at(h: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return h[torch.arange(h.shape[0], device=h.device), idx.to(h.device)]

    def reward_head(self, h_last: torch.Tensor) -> torch.Tensor:
        return self.score(h_last).squeeze(-1)

    def label_logits(self, h_last: torch.Tensor) -> torch.Tensor:
        """Logits of the 5 position labels at the last position: [B, 5]."""
        w = self.llm.get_output_embeddings().weight[self.label_ids].float()
        return h_last @ w.T

    def label_logprobs(self, h_last: torch.Tensor) -> torch.Tensor:
        """Calibrated 5-way log-probabilities of the position labels: log_softmax(label logits) - label_bias."""
        return self.label_logits(h_last).log_softmax(-1) - self.label_bias

    # --- losses (used by train.py) ---
    def reward_loss(self, h_pos: torch.Tensor, h_neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 1: -log sigma(r(p_t, a+) - r(p_t, a-)) from the last hidden states [B, d] of the two reward prompts;
        also the pairwise accuracy."""
        r_pos, r_neg = self.reward_head(h_pos), self.reward_head(h_neg)
        return -F.logsigmoid(r_pos - r_neg).mean(), (r_pos > r_neg).float().mean()

    def state_loss(
        self,
        states: torch.Tensor,
        targets: torch.Tensor,
        scale: str = "none",
        same_item: str = "keep",
        batch_targets: torch.Tensor | None = None,
        negatives: str = "batch",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 2: -1/B sum_j log sigma(s_t . a+_t - s_t . a_j), a_j the j-th next action of the batch; averaged over
        the batch's B states. Also returns the share of saturated pairs (|difference| > 10: sigma' < 5e-5, the pair
        gives no gradient), the measure of whether the raw form can train.

        ``scale="none"``, ``same_item="keep"`` is Eq. 2 as written (the paper recipe; the j = t pair and any a_j equal
        to a+_t contribute the constant log 2). ``inv_sqrt_d`` divides the dot products by sqrt(d) (as attention
        logits): the LLM's last hidden states have a large norm and the raw products saturate the sigmoid; the ranking
        s . a is unchanged by the scale. ``drop`` leaves out pairs whose batch action equals a+_t (extended recipe).

        ``batch_targets`` (a micro-batch, lea.env.train.step_loss): the states are some of a batch whose actions a_j
        are these [B]; ``targets`` [m] are the states' own a+_t. The mean is then over the [m, B] pairs (kept).

        ``negatives="catalogue"`` (ours, off in both recipes): every item of the catalogue is a negative, the softmax
        cross-entropy -log softmax_i(s_t . a_i)[a+_t] averaged over the states (InfoNCE with the whole item set, which
        is what le_quality's HR@10 ranks); ``same_item`` and ``batch_targets`` then play no part (each state's term
        needs only its own a+_t). Eq. 2's B in-batch actions are a sample of these negatives."""
        targets = targets.to(self.device)
        if negatives == "catalogue":
            logits = states @ self.item_tokens.T  # [m, n_items]
            if scale == "inv_sqrt_d":
                logits = logits / math.sqrt(states.shape[-1])
            elif scale != "none":
                raise ValueError(f"state_scale must be none or inv_sqrt_d, got {scale!r}")
            diff = logits.gather(1, targets[:, None]) - logits
            return F.cross_entropy(logits, targets), (diff.detach().abs() > 10).float().mean()
        if negatives != "batch":
            raise ValueError(f"state_negatives must be batch or catalogue, got {negatives!r}")
        if batch_targets is None:
            a = self.item_tokens[targets]
            logits = states @ a.T  # [B, B]
            pos = logits.diagonal()
            batch_targets = targets
        else:
            batch_targets = batch_targets.to(self.device)
            logits = states @ self.item_tokens[batch_targets].T  # [m, B]
            pos = (states * self.item_tokens[targets]).sum(-1)  # s_t . a+_t, the diagonal of the full [B, B]
        if scale == "inv_sqrt_d":
            logits = logits / math.sqrt(states.shape[-1])
            pos = pos / math.sqrt(states.shape[-1])
        elif scale != "none":
            raise ValueError(f"state_scale must be none or inv_sqrt_d, got {scale!r}")
        diff = pos[:, None] - logits
        saturated = (diff.detach().abs() > 10).float().mean()
        if same_item == "keep":
            return -F.logsigmoid(diff).mean(), saturated
        if same_item != "drop":
            raise ValueError(f"state_same_item must be keep or drop, got {same_item!r}")
        keep = targets[:, None] != batch_targets[None, :]
        if not keep.any():
            return states.sum() * 0.0, saturated
        return -(F.logsigmoid(diff) * keep).sum() / keep.sum(), saturated

    def choice_loss(self, h_last: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The 5-way position choice from the last hidden states [N, d] of the choice prompts; also the accuracy."""
        logits = self.label_logits(h_last)
        label = label.to(self.device)
        return F.cross_entropy(logits, label), (logits.argmax(1) == label).float().mean()

    # --- persistence ---
    def save_score_head(self, path: str | Path) -> None:
        from lea.io import write_safetensors

        write_safetensors({"weight": self.score.weight, "bias": self.score.bias, "label_bias": self.label_bias}, path)

    def merge_lora(self) -> None:
        """Fold the LoRA update into the frozen weights, W <- W + (alpha / r) B A, for inference only
        (``precompute.merge_lora``): every adapted projection then runs as one plain matmul instead of three plus an
        add. The same function; in bf16 the sum is rounded once to the weight's dtype, so outputs differ by rounding
        (tests/test_env_le.py checks fp32 agreement). In place: a merged LE must not be trained."""
        from peft.tuners.lora import LoraLayer

        if not any(isinstance(m, LoraLayer) and m.merged for m in self.peft.modules()):  # once (peft warns again)
            self.peft.merge_adapter()

    def load_score_head(self, path: str | Path) -> None:
        from safetensors.torch import load_file

        sd = load_file(str(path))
        if "label_bias" in sd:
            self.label_bias.copy_(sd.pop("label_bias").to(self.device))
        self.score.load_state_dict({k: v.to(self.device) for k, v in sd.items()})
