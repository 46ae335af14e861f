"""Batched LE inference: ``states(histories)``, ``rewards(histories, actions)``, ``choose(histories, candidates)``.

Each takes thousands of rows, runs in chunks of ``batch_size`` prompts (bounded memory; prompts sorted by length so
padding is small) with a progress bar. Fast paths exploit the prompt structure:
- ``sequence_states`` (item-token mode): the states of all prefixes of a sequence's first W items are hidden states
  of ONE causal forward pass over p_t(x_1..x_W) (the user prompt ends with the last item, Eq. 2 reads the last
  position); only windows that slide past W need their own pass.
- ``rewards_shared``: the K reward prompts of one history share p_t and the words of p_at before the item: that
  prefix is run once with a KV cache, the cache is repeated K times and only the item and the rest of p_at run on
  top. Prefixes are grouped by token length (no padding in the shared pass); the continuations are right-padded
  where they differ in length (-IT titles; with item tokens they never do).
- ``choice_scores`` / ``choose_with_rewards``: the augmentation prompt p_t p_lt and the reward prompts p_t p_at of
  the 5 listed items share p_t: it runs once, the list part runs on its cache, the cache is cropped back to p_t and
  the words of p_at before the item run once on it before it forks into the 5 actions. The paper's rule (the label
  reading alone) needs only its pick's reward: ``chosen_only`` runs that one continuation instead of the fork.
- ``packed`` (a speed switch, off by default): the same sharing without a KV cache. The prompts of one history (its
  K reward prompts; the list prompt and the 5 reward prompts of an augmentation row) go into one prefix-tree row
  (lea.env.pack, as the training step's), so p_t is computed once, and every row is one plain forward pass of fixed
  structure that ``torch.compile`` (``compile``) can fuse: the eager attention's and the RMSNorms' elementwise passes
  take more time than the matmuls on a CPU (docs/results.md). The paper's choice rule (``chosen_only``) runs the list
  prompts first and the picked item's reward prompt in a second pass, which computes p_t again.
- ``merge_lora`` (a speed switch, off by default): the LoRA update folded into the frozen weights before inference,
  so each adapted projection is one matmul (LE.merge_lora); the same function up to rounding in bf16.
The naive paths (one prompt per row) are kept: the benchmark checks the fast paths agree with them.

The KV-cache sharing pays where compute is the bottleneck (the CPU: 1.3x). On a GPU the many small shared passes
(one per prefix length) cost more in launches than they save: on an H200 the naive batched path was 2.2-3x (rewards)
and 3.6-5x (augmentation) faster, for SmolLM2 and for Mistral-7B in 4-bit alike (benchmarks/bench_le_gpu.sh). So
``kv_share`` defaults to on for the CPU and off for a GPU (``precompute.kv_share``: auto/true/false); the prefix-shared
states stay on everywhere (5.6-19x faster on the H200 too).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm import tqdm

from lea.env.model import LE
from lea.env.pack import pack
from lea.env.prompts import Batch, Prompt, Prompter


class LEInference:
    def __init__(
        self,
        le: LE,
        prompter: Prompter,
        batch_size: int = 32,
        progress: bool = True,
        reward_prior: bool = False,
        kv_share: bool | None = None,
        packed: bool = False,
        compile: bool = False,
        merge_lora: bool = False,
    ) -> None:
        self.le, self.p, self.bs, self.progress, self.reward_prior = le, prompter, batch_size, progress, reward_prior
        if merge_lora:  # precompute.merge_lora: LoRA folded into the weights (in place, the LE is not trained again)
            le.merge_lora()
        # None: share KV caches on the CPU only (see the module docstring)
        self.kv_share = le.device.type == "cpu" if kv_share is None else kv_share
        if compile and not packed:
            raise ValueError("compile needs packed: the KV-cache passes change structure from call to call")
        self.packed = packed
        # dynamic shapes: the rows' count and length change from batch to batch
        self.body = torch.compile(le.body, dynamic=True) if compile else None
        le.eval()

    def _bar(self, n: int, desc: str) -> tqdm:
        return tqdm(total=n, desc=desc, disable=not self.progress, mininterval=5, unit="row")

    @torch.no_grad()
    def _run(self, prompts: list[Prompt], desc: str, read: str) -> torch.Tensor:
        """Hidden state at ``read`` ('last' or 'state') of each prompt, in the given order: [N, d] float32."""
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].ids))
        out = torch.empty(len(prompts), self.le.llm.config.hidden_size)
        bar = self._bar(len(prompts), desc)
        for s in range(0, len(order), self.bs):
            idx = order[s : s + self.bs]
            b = self.p.collate([prompts[i] for i in idx])
            h = self.le.hidden(b)
            out[idx] = self.le.at(h, b.last if read == "last" else b.state_at).cpu()
            bar.update(len(idx))
        bar.close()
        return out

    # --- the API ---
    def states(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """s^e_t (Eq. 2) for each history (last W items): [N, d] float32."""
        return self._run([self.p.user(h) for h in histories], "LE states", "last")

    @torch.no_grad()
    def rewards(self, histories: Sequence[Sequence[int]], actions: Sequence[int]) -> torch.Tensor:
        """r^e(p_t, p_at) (Eq. 1) for each (history, action) row: [N] float32."""
        h = self._run([self.p.reward(x, a) for x, a in zip(histories, actions, strict=True)], "LE rewards", "last")
        return self.le.reward_head(h.to(self.le.device)).float().cpu()

    @torch.no_grad()
    def choose(
        self, histories: Sequence[Sequence[int]], candidate_lists: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The position-label reading alone (naive path, one prompt per row): (chosen position [N], calibrated label
        probabilities [N, 5])."""
        logp = self._label_logprobs(histories, candidate_lists)
        return logp.argmax(1), logp.softmax(1)

    def _label_logprobs(
        self, histories: Sequence[Sequence[int]], candidate_lists: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """Calibrated label log-probabilities [N, 5] of p_t p_lt, one prompt per row."""
        prompts = [self.p.augment(x, c) for x, c in zip(histories, candidate_lists, strict=True)]
        h = self._run(prompts, "LE choices", "last")
        return self.le.label_logprobs(h.to(self.le.device)).float().cpu()

    # --- fast paths ---
    def _continue_rows(self, cache, parts: Sequence[tuple[list[int], list[int]]]) -> torch.Tensor:  # type: ignore[no-untyped-def]
        """Hidden state at the last real token of each continuation (token ids, item slots) on top of ``cache``;
        continuations of different lengths (-IT titles) are right-padded, which a causal pass never attends to."""
        n, t = len(parts), max(len(ids) for ids, _ in parts)
        ids = torch.full((n, t), self.p.pad_id, dtype=torch.long)
        at = torch.full((n, t), -1, dtype=torch.long)
        att = torch.zeros((n, t), dtype=torch.long)
        for r, (i, a) in enumerate(parts):
            ids[r, : len(i)], at[r, : len(a)], att[r, : len(i)] = torch.tensor(i), torch.tensor(a), 1
        last = torch.tensor([len(i) - 1 for i, _ in parts])
        h = self.le.hidden(Batch(ids, at, att, last, torch.zeros(n, dtype=torch.long)), past=cache)
        return self.le.at(h, last)

    @torch.no_grad()
    def choice_scores(
        self,
        histories: Sequence[Sequence[int]],
        candidate_lists: Sequence[Sequence[int]],
        with_rewards: bool = True,
        chosen_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The two readings of the augmentation step, sharing p_t: the calibrated position-label log-probabilities
        of p_t p_lt ([N, 5], ``LE.label_logprobs``) and r^e(p_t, x_k) of each listed item ([N, 5], Eq. 1; None
        without ``with_rewards``). One p_t pass per batch: the list part runs on its KV cache, the cache is cropped
        back to p_t, extended by p_at's words before the item, repeated 5 times, and each candidate's item and the
        rest of p_at run on it. ``chosen_only`` (the paper's choice, the label reading alone) scores only the item
        of the highest label log-probability, the one reward Eq. 14 needs, and leaves the other 4 NaN: one reward
        continuation a row instead of 5."""
        n = len(histories)
        if self.packed:
            return self._choice_packed(histories, candidate_lists, with_rewards, chosen_only)
        if not self.kv_share:  # one prompt per row, in full batches (faster on a GPU)
            logp = self._label_logprobs(histories, candidate_lists)
            if not with_rewards:
                return logp, None
            if not chosen_only:
                return logp, self.rewards_shared(histories, candidate_lists)
            k = logp.argmax(1)
            rew = torch.full((n, 5), float("nan"))
            chosen = [c[int(j)] for c, j in zip(candidate_lists, k, strict=True)]
            rew[torch.arange(n), k] = self.rewards(histories, chosen) if n else torch.zeros(0)
            return logp, rew
        pre = len(self.p.action_pre)
        logp, rew = torch.empty(n, 5), torch.full((n, 5), float("nan"))
        users = [self.p.user(h) for h in histories]
        groups: dict[int, list[int]] = {}  # p_t of one token length: no padding in the shared pass
        for i, u in enumerate(users):
            groups.setdefault(len(u.ids), []).append(i)
        bs = max(1, self.bs // 5) if with_rewards and not chosen_only else self.bs
        bar = self._bar(n, "LE choices (shared history)")
        for _, rows in sorted(groups.items()):
            for s0 in range(0, len(rows), bs):
                idx = rows[s0 : s0 + bs]
                _, cache = self.le.hidden(self.p.collate([users[i] for i in idx]), use_cache=True)
                user_len = cache.get_seq_length()
                lists = [self.p.augment(histories[i], candidate_lists[i]) for i in idx]
                h = self._continue_rows(cache, [(q.ids[user_len:], q.item_at[user_len:]) for q in lists])
                logp[idx] = self.le.label_logprobs(h).float().cpu()
                if with_rewards:
                    cache.crop(user_len - cache.get_seq_length())  # drop the list part: back to p_t
                    # the words of p_at before the item are the same for the 5 actions: run them once, then fork
                    self._continue_rows(cache, [(self.p.action_pre, [-1] * pre)] * len(idx))
                    cut = user_len + pre
                    if chosen_only:  # the label reading's pick only: no fork of the cache
                        k = logp[idx].argmax(1)
                        acts = [self.p.reward(histories[i], candidate_lists[i][int(j)]) for i, j in zip(idx, k)]
                        h = self._continue_rows(cache, [(q.ids[cut:], q.item_at[cut:]) for q in acts])
                        rew[torch.tensor(idx), k] = self.le.reward_head(h).float().cpu().view(len(idx))
                    else:
                        cache.batch_repeat_interleave(5)
                        acts = [self.p.reward(histories[i], a) for i in idx for a in candidate_lists[i]]
                        h = self._continue_rows(cache, [(q.ids[cut:], q.item_at[cut:]) for q in acts])
                        rew[idx] = self.le.reward_head(h).float().cpu().view(len(idx), 5)
                bar.update(len(idx))
        bar.close()
        return logp, rew if with_rewards else None

    @torch.no_grad()
    def _packed_rows(
        self, groups: Sequence[Sequence[Prompt]], desc: str, first_is_list: bool = False
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """One prefix-tree row per group (its prompts share p_t), ``batch_size`` prompts a pass, groups sorted by
        their prompts' length so a pass's rows are nearly equally long. Returns (the calibrated label
        log-probabilities [G, 5] of each group's first prompt, with ``first_is_list``, else None; r^e of the other
        prompts [G, K])."""
        G = len(groups)
        if G == 0:
            return (torch.zeros(0, 5) if first_is_list else None), torch.zeros(0, 0)
        size = len(groups[0])
        if any(len(g) != size for g in groups):
            raise ValueError("packed rows need the same number of prompts per group")
        k = size - 1 if first_is_list else size
        logp = torch.empty(G, 5) if first_is_list else None
        rew = torch.empty(G, k)
        order = sorted(range(G), key=lambda i: sum(len(q.ids) for q in groups[i]))
        per = max(1, self.bs // size)
        bar = self._bar(G * size, desc)
        for s0 in range(0, G, per):
            idx = order[s0 : s0 + per]
            rows = [groups[i] for i in idx]
            # max_tokens 0: a row's budget is the largest group, so each group gets a row (two small ones may share)
            packed = pack(rows, self.p.pad_id, 0)
            h = self.le.hidden_packed(packed, self.body)
            flat = list(range(len(idx) * size))
            last = packed.gather(h, flat, [len(q.ids) - 1 for g in rows for q in g]).view(len(idx), size, -1)
            if first_is_list:
                assert logp is not None
                logp[idx] = self.le.label_logprobs(last[:, 0]).float().cpu()
                last = last[:, 1:]
            if k:
                rew[idx] = self.le.reward_head(last.reshape(len(idx) * k, -1)).float().cpu().view(len(idx), k)
            bar.update(len(idx) * size)
        bar.close()
        return logp, rew

    def _choice_packed(
        self,
        histories: Sequence[Sequence[int]],
        candidate_lists: Sequence[Sequence[int]],
        with_rewards: bool,
        chosen_only: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``choice_scores`` on packed rows: the list prompt p_t p_lt and (``with_rewards``, not ``chosen_only``) the 5
        reward prompts p_t p_at share one row; ``chosen_only`` scores the label reading's pick in a second pass."""
        lists = [self.p.augment(h, c) for h, c in zip(histories, candidate_lists, strict=True)]
        n = len(histories)
        if with_rewards and not chosen_only:
            groups = [
                [q, *(self.p.reward(h, a) for a in c)]
                for q, h, c in zip(lists, histories, candidate_lists, strict=True)
            ]
            logp, rew = self._packed_rows(groups, "LE choices (packed rows)", first_is_list=True)
            assert logp is not None
            return logp, rew
        logp, _ = self._packed_rows([[q] for q in lists], "LE choices (packed rows)", first_is_list=True)
        assert logp is not None
        if not with_rewards:
            return logp, None
        k = logp.argmax(1)
        rew = torch.full((n, 5), float("nan"))
        picked = [[self.p.reward(h, c[int(j)])] for h, c, j in zip(histories, candidate_lists, k, strict=True)]
        rew[torch.arange(n), k] = self._packed_rows(picked, "LE rewards of the picks (packed rows)")[1].view(n)
        return logp, rew

    def choose_with_rewards(
        self, histories: Sequence[Sequence[int]], candidate_lists: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The LE's augmentation choice a^e_t among 5 candidates and its reward r^e(p_t, a^e_t) (Eq. 14):
        (chosen position [N], choice probabilities [N, 5], reward of the chosen item [N]).

        Without ``reward_prior`` (the default, the paper's section 3.4: "the item with the highest label score") the
        choice is the position-label reading alone (calibrated when ``label_bias`` is set). With it (the extended
        recipe) the scores are those log-probabilities plus the reward model's r^e of each listed item: a product of
        the two experts of the same LE (under Bradley-Terry, P(k) ~ exp(r_k))."""
        # the paper's rule needs the reward of its pick only (chosen_only); the reward prior needs all 5
        logp, rew = self.choice_scores(histories, candidate_lists, with_rewards=True, chosen_only=not self.reward_prior)
        assert rew is not None
        score = logp + rew if self.reward_prior else logp
        k = score.argmax(1)
        return k, score.softmax(1), rew[torch.arange(len(k)), k]

    @torch.no_grad()
    def sequence_states(self, sequences: Sequence[Sequence[int]]) -> list[torch.Tensor]:
        """For each sequence x_1..x_L, the states before positions 0..L ([L+1, d] each), sharing causal prefixes."""
        if self.p.text_items:  # -IT: titles have variable length; read each prefix separately
            hist = [list(s[max(0, p - self.p.window) : p]) for s in sequences for p in range(len(s) + 1)]
            flat = self.states(hist)
            out, k = [], 0
            for s in sequences:
                out.append(flat[k : k + len(s) + 1])
                k += len(s) + 1
            return out
        W, head = self.p.window, len(self.p.header)
        jobs: list[tuple[Prompt, list[tuple[int, int, int]]]] = []  # prompt, [(seq, position, read index)]
        for si, s in enumerate(sequences):
            s = list(s)
            first = s[:W]
            jobs.append((self.p.user(first), [(si, p, head - 1 + p) for p in range(len(first) + 1)]))
            for p in range(W + 1, len(s) + 1):
                jobs.append((self.p.user(s[p - W : p]), [(si, p, head - 1 + W)]))
        d = self.le.llm.config.hidden_size
        out = [torch.empty(len(s) + 1, d) for s in sequences]
        order = sorted(range(len(jobs)), key=lambda i: len(jobs[i][0].ids))
        bar = self._bar(sum(len(s) + 1 for s in sequences), "LE states (shared prefixes)")
        for s0 in range(0, len(order), self.bs):
            idx = order[s0 : s0 + self.bs]
            b = self.p.collate([jobs[i][0] for i in idx])
            h = self.le.hidden(b).cpu()
            for r, i in enumerate(idx):
                for si, pos, at in jobs[i][1]:
                    out[si][pos] = h[r, at]
                bar.update(len(jobs[i][1]))
        bar.close()
        return out

    @torch.no_grad()
    def rewards_shared(self, histories: Sequence[Sequence[int]], action_lists: Sequence[Sequence[int]]) -> torch.Tensor:
        """r^e for K actions per history ([N, K]); p_t is computed once per history and its KV cache reused."""
        K = len(action_lists[0]) if action_lists else 0
        if any(len(a) != K for a in action_lists):
            raise ValueError("rewards_shared needs the same number of actions per history")
        if self.packed:
            return self._packed_rows(
                [[self.p.reward(h, a) for a in al] for h, al in zip(histories, action_lists, strict=True)],
                "LE rewards (packed rows)",
            )[1]
        if not self.kv_share:  # one prompt per row, in full batches (faster on a GPU)
            flat = [x for x in histories for _ in range(K)]
            return self.rewards(flat, [a for al in action_lists for a in al]).view(len(histories), K)
        out = torch.empty(len(histories), K)
        prefixes = [self.p.reward_prefix(h) for h in histories]
        groups: dict[int, list[int]] = {}  # shared prefixes of one token length: no padding in the shared pass
        for i, q in enumerate(prefixes):
            groups.setdefault(len(q.ids), []).append(i)
        bs = max(1, self.bs // max(K, 1)) if K > 1 else self.bs
        bar = self._bar(len(histories) * K, "LE rewards (shared history)")
        for _, rows in sorted(groups.items()):
            for s0 in range(0, len(rows), bs):
                idx = rows[s0 : s0 + bs]
                # shared prefix: p_t + ". Compute the likelihood that"
                _, cache = self.le.hidden(self.p.collate([prefixes[i] for i in idx]), use_cache=True)
                cut = cache.get_seq_length()
                cache.batch_repeat_interleave(K)
                acts = [self.p.reward(histories[i], a) for i in idx for a in action_lists[i]]  # x^e_a + rest of p_at
                h = self._continue_rows(cache, [(q.ids[cut:], q.item_at[cut:]) for q in acts])
                out[idx] = self.le.reward_head(h).float().cpu().view(len(idx), K)
                bar.update(len(idx) * K)
        bar.close()
        return out
