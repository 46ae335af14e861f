"""``lea fit-le``: fine-tune the LE of one setting (shared LoRA; reward, state and choice heads) and measure it."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import torch

from lea.cli import parse_settings
from lea.config import RECIPES, with_recipe
from lea.errors import ConfigError, InputError
from lea.io import atomic_path, read_parquet, write_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--settings",
        required=True,
        help="JSON: {'llm': llms.<name>, 'le': le_setting, 'finetune': le.finetune, 'history': W, 'domain': {...}}",
    )
    p.add_argument("--data-dir", required=True, help="results/{dataset}/data")
    p.add_argument("--item-tokens", default=None, help="item_tokens.safetensors (not needed by the -IT ablation)")
    p.add_argument("--out-dir", required=True, help="results/{dataset}/le/{llm}/{le}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the rule's threads)")


# the item tokens a fit with finetune.item_token_lr trained, in its adapter folder (the precompute loads them there)
TUNED_TOKENS = "item_tokens.safetensors"


def load_item_tokens(path: str | Path) -> torch.Tensor:
    from safetensors.torch import load_file

    p = Path(path)
    if not p.exists():
        from lea.errors import MissingInputError

        raise MissingInputError(p, "item_tokens")
    return load_file(str(p))["item_tokens"]


def rescale_item_tokens(tokens: torch.Tensor, norm: float | str, vocab: torch.Tensor) -> torch.Tensor:
    """finetune.item_token_norm (ours): every item token scaled to one L2 norm, its direction kept. "vocab" is the
    mean norm of the LLM's own input embeddings. The item-token optimisation lets the norms grow (22-31 on both
    stand-ins against SmolLM2's mean 3.2, max 7.5), far outside the distribution of the token embeddings the
    pretrained blocks were trained on; the paper asks for item tokens in the token embedding space W (section 3.2).
    Its effect is measured in docs/departures.md."""
    if norm == "vocab":
        target = float(vocab.detach().float().norm(dim=1).mean())
    elif isinstance(norm, int | float) and not isinstance(norm, bool) and norm > 0:
        target = float(norm)
    else:
        raise ConfigError("le.finetune.item_token_norm", f"expected a positive number or 'vocab', got {norm!r}")
    t = tokens.float()
    return t * (target / t.norm(dim=1, keepdim=True).clamp_min(1e-12))


def build(
    s: Mapping[str, Any],
    data_dir: str | Path,
    item_tokens_path: str | Path,
    adapter_dir: str | Path | None = None,
    score_head: str | Path | None = None,
):  # type: ignore[no-untyped-def]
    """The LE of a setting: (LE model, Prompter, n_items). With ``adapter_dir`` the trained LoRA is loaded."""
    from lea.env.model import LE
    from lea.env.prompts import Prompter
    from lea.llm.load import load_llm
    from lea.llm.pieces import llm_key

    llm_s, le_s = s["llm"], s.get("le", {})
    items = read_parquet(Path(data_dir) / "items.parquet", "preprocess", {"item": pl.Int32, "title": pl.Utf8}).sort(
        "item"
    )
    model, tok = load_llm(llm_s)
    titles = None if le_s.get("item_tokens", True) else [t or "" for t in items["title"].to_list()]
    prompter = Prompter(
        tok,
        s.get("domain", {}),
        llm_s.get("prefix_text", ""),
        s.get("history", 10),
        titles,
        bos=llm_s.get("bos"),
        llm_key=llm_key(llm_s),
    )
    if titles is None:
        if item_tokens_path is None:
            raise InputError("--item-tokens", "this LE setting uses item tokens: pass item_tokens.safetensors")
        tokens = load_item_tokens(item_tokens_path)
        if tokens.shape[0] != items.height:
            raise InputError(
                item_tokens_path, f"{tokens.shape[0]} item tokens for {items.height} items: rerun item_tokens"
            )
    else:  # -IT: items are titles in the prompts; Eq. 2's action vectors are the mean embeddings of the title tokens
        table = model.get_input_embeddings().weight.detach().float()
        tokens = torch.stack([table[torch.tensor(ids or [tok.pad_token_id])].mean(0) for ids in prompter.title_ids])
    ft = s.get("finetune", {})
    if titles is not None and (ft.get("item_token_lr") is not None or ft.get("item_token_norm") is not None):
        raise ConfigError(
            "le.finetune.item_token_lr / item_token_norm",
            "this LE setting has item_tokens: false (the -IT ablation: titles as text), so it has no item tokens to "
            "train or rescale",
        )
    if ft.get("item_token_norm") is not None:
        tokens = rescale_item_tokens(tokens, ft["item_token_norm"], model.get_input_embeddings().weight)
    if adapter_dir is not None and ft.get("item_token_lr") is not None:
        # finetune.item_token_lr (ours): the fit trained the item tokens too and saved them beside its adapter
        tokens = load_item_tokens(Path(adapter_dir) / TUNED_TOKENS)
        if tokens.shape[0] != items.height:
            raise InputError(
                Path(adapter_dir) / TUNED_TOKENS, f"{tokens.shape[0]} item tokens for {items.height} items"
            )
    le = LE(model, tokens, prompter.label_ids, ft, adapter_dir=adapter_dir)
    if score_head is not None:
        le.load_score_head(score_head)
    return le, prompter, items.height


def main(args: argparse.Namespace) -> int:
    from lea.env.curve import DEFAULT_EVERY, DEFAULT_TRANSITIONS, LearningCurve, write_curve
    from lea.env.inference import LEInference
    from lea.env.quality import examples, measure
    from lea.env.reference import reference
    from lea.env.train import anchor_rewards, fit, label_prior, load_data

    s = parse_settings(args.settings)
    if args.threads:
        torch.set_num_threads(args.threads)
    le_s = s.get("le", {})
    ft = with_recipe(s.get("finetune", {}), s.get("finetune", {}).get("recipe", "paper"))
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    data = load_data(s, args.data_dir, args.seed)
    train_ids, train, valid = data.train_ids, data.train, data.valid
    le, prompter, n_items = build(s, args.data_dir, args.item_tokens)
    given_tokens = le.item_tokens.detach().clone()  # the reference floor below reads the item tokens as given
    n_train = sum(p.numel() for p in le.parameters() if p.requires_grad)
    print(
        f"LE subset: {len(train_ids)} sequences, {len(train)} transitions; {n_train} trainable parameters", flush=True
    )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"  # not a rule output: Snakemake leaves it when a killed job's outputs are removed
    every = ft.get("curve_every", DEFAULT_EVERY)
    curve = None
    if every > 0 and valid:
        # the first curve_transitions of the validation sample in a seeded random order (the sample itself is in
        # sequence order when it holds every validation transition: its first rows would be the first few users)
        curve = LearningCurve(
            prompter,
            random.Random(args.seed + 4).sample(valid, len(valid)),
            n_items,
            every,
            ft.get("curve_transitions", DEFAULT_TRANSITIONS),
            reward_prior=ft["choice_reward_prior"],
            seed=args.seed,
        )
    elif every > 0:
        print("no validation transitions: learning_curve.csv gets no rows", flush=True)
    t0 = time.perf_counter()
    log = fit(
        le,
        prompter,
        train,
        n_items,
        ft,
        state_loss=le_s.get("state_loss", True),
        seed=args.seed,
        checkpoint=ckpt,
        context={k: s.get(k) for k in ("llm", "le", "history", "domain")},  # what shapes the model and its prompts
        curve=curve,
    )
    # the curve's points have their own seconds (curve_time_s: every point of the run, a resumed one's too)
    train_s = time.perf_counter() - t0 - (curve.seconds_here if curve is not None else 0.0)
    curve_s = sum(r["measure_s"] for r in curve.rows) if curve is not None else 0.0
    tmp = Path(tempfile.mkdtemp(prefix=".adapter.", dir=out))
    le.peft.save_pretrained(str(tmp))
    if isinstance(le.item_tokens, torch.nn.Parameter):  # finetune.item_token_lr: the trained item tokens
        from lea.io import write_safetensors

        write_safetensors({"item_tokens": le.item_tokens.detach().cpu().contiguous()}, tmp / TUNED_TOKENS)
    if (out / "adapter").exists():
        shutil.rmtree(out / "adapter")
    tmp.rename(out / "adapter")
    if ft["label_calibration"]:  # extended: contextual calibration of the label reading
        le.label_bias.copy_(label_prior(le, prompter, train, n_items, seed=args.seed))
    shift = None
    if ft["reward_anchor"] is not None:  # extended; paper: r^e as the score head gives it
        shift = anchor_rewards(le, prompter, train, ft["reward_anchor"])
    le.save_score_head(out / "score_head.safetensors")
    with atomic_path(out / "train_log.csv") as p:
        pl.DataFrame(log).write_csv(p)
    write_curve(curve.rows if curve is not None else [], out / "learning_curve.csv")
    t1 = time.perf_counter()
    inf = LEInference(le, prompter, batch_size=32, reward_prior=ft["choice_reward_prior"])
    q = measure(inf, valid, n_items, seed=args.seed)
    q.update(
        setting=le_s.get("name"),
        train_sequences=len(train_ids),
        train_transitions=len(train),
        steps=len(log),
        train_time_s=round(train_s, 1),
        eval_time_s=round(time.perf_counter() - t1, 1),
        train_tokens_per_s=round(log[-1]["tokens_per_s"], 1) if log else None,
        final_train_loss=log[-1]["loss"] if log else None,
        train_transitions_per_s=round(log[-1]["transitions_per_s"], 2) if log else None,
        train_peak_rss_mb=round(log[-1]["peak_rss_mb"], 1) if log else None,
        curve_points=len(curve.rows) if curve is not None else 0,
        curve_time_s=round(curve_s, 1),
        reward_shift=shift,
        recipe=ft["recipe"],
        switches={k: ft[k] for k in RECIPES["paper"]},
        # our switches outside the recipes (docs/departures.md), with the values of the paper's plain step when unset
        other_switches={
            "state_weight": ft.get("state_weight", 1.0),
            "max_grad_norm": ft.get("max_grad_norm"),
            "lora_top_layers": ft.get("lora_top_layers"),
            "item_token_lr": ft.get("item_token_lr"),
            "item_token_norm": ft.get("item_token_norm"),
        },
        # share of Eq. 2's pairs with |s.a+ - s.a_j| > 10 (no gradient), over all steps: is the form trainable?
        state_loss_saturated=(sum(sat) / len(sat))
        if (sat := [r["sm_saturated"] for r in log if "sm_saturated" in r])
        else None,
        # the floor: context-free item scores fitted on the same LE subset, on the same validation examples
        reference=reference(train, examples(valid, n_items, args.seed), n_items, given_tokens, seed=args.seed),
    )
    write_json(q, out / "le_quality.json")
    ckpt.unlink(missing_ok=True)  # after the last output: a kill before this still resumes
    print(json.dumps(q))
    return 0
