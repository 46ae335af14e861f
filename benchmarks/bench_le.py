"""Speed of the LLM stages on the same inputs, in one run (a benchmark, not a timed test).

Reports: item tokenization item-iterations/s batched vs one item at a time (and the text-mean vs random init losses);
LE training: each step variant of ``--train-variants`` (naive per-prompt step, shared prefix-tree step, with and
without activation checkpointing, torch.compile, the top-6-block LoRA approximation) in its own child process on the
same transitions and seed (LoRA dropout off, so losses compare step by step): transitions/s and prompt tokens/s after
``--warmup-steps``, the ratio against the naive step of the same run, the losses and peak RSS; inference rows/s of
states and rewards, naive (one prompt per row, one forward each) vs the prompt-structure fast paths (prefix-shared
states, KV-cached shared history for rewards, one p_t pass for the
augmentation choice and its 5 rewards) with the max abs difference.

    python benchmarks/bench_le.py --llm resources/llm/smollm2/hf --data-dir results/demo/data --out bench_le.json
    python benchmarks/bench_le.py --sections train --train-steps 4 --threads 2 --out bench_le_train.json

On a GPU: ``--device cuda``. Speed does not depend on weight values, so ``--random-weights`` builds the model of the
``--llm`` folder's config.json with random weights (only the config and tokenizer files are needed), and
``--arch mistral-7b`` builds Mistral-7B-v0.1's architecture with random weights (the ``--llm`` folder's tokenizer and
vocabulary size); ``--load-in-4bit`` then saves it and reloads it through ``load_llm`` in nf4 (bitsandbytes), as a
real 7B run loads it.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path

import polars as pl
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", default="resources/llm/smollm2/hf", help="HF folder (or folder holding --gguf-file)")
    ap.add_argument("--gguf-file", default=None)
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--prefix-text", default="<|im_start|>")
    ap.add_argument("--data-dir", default="results/demo/data")
    ap.add_argument("--items", type=int, default=16, help="items for the item-token timing")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--init-iterations", type=int, default=0, help=">0: compare inits over this many iterations")
    ap.add_argument("--train-steps", type=int, default=4)
    ap.add_argument("--sequences", type=int, default=12, help="training sequences for the inference timing")
    ap.add_argument("--negatives", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--attn", default="sdpa", help="attn_implementation of every part but the *-eager train variants")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--random-weights", action="store_true", help="the --llm folder's architecture, random weights")
    ap.add_argument("--arch", choices=["mistral-7b"], default=None, help="a named architecture, random weights")
    ap.add_argument("--num-layers", type=int, default=None, help="override the layer count (smoke tests)")
    ap.add_argument("--load-in-4bit", action="store_true", help="bitsandbytes nf4 (GPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", default="item_tokens,train,inference", help="comma list of the parts to run")
    ap.add_argument("--train-variants", default="naive,shared,shared-nockpt", help=f"of {', '.join(VARIANTS)}")
    ap.add_argument("--warmup-steps", type=int, default=1, help="training steps left out of the timing")
    ap.add_argument("--train-variant", default=None, help=argparse.SUPPRESS)  # internal: one child run
    ap.add_argument("--recipe", choices=["paper", "extended"], default="paper", help="the LE recipe of the steps")
    ap.add_argument("--titles", action="store_true", help="-IT prompts (item titles as text) in the training part")
    ap.add_argument("--domain", default=None, help="JSON domain words of the prompts (default: movies)")
    ap.add_argument(
        "--inference-packed",
        default="",
        help="comma list of packed, packed-compile: also time precompute.packed (and compile) on the same rows",
    )
    ap.add_argument(
        "--inference-merged",
        action="store_true",
        help="also time precompute.merge_lora (LoRA folded into the weights) on the KV-cache paths, last (in place)",
    )
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from lea.env.inference import LEInference
    from lea.env.train import le_subset, load_sequences
    from lea.llm.item_tokens import encode_sentences, learn_item_tokens
    from lea.llm.load import load_llm

    torch.manual_seed(a.seed)
    res: dict = {
        "device": torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "dtype": a.dtype,
        "attn_implementation": a.attn,
        "weights": "random" if (a.random_weights or a.arch) else "pretrained",
        "arch": a.arch or Path(a.llm).name,
        "load_in_4bit": a.load_in_4bit,
        "versions": {"torch": torch.__version__, "transformers": _version("transformers"), "peft": _version("peft")},
    }
    settings = {"path": a.llm, "gguf_file": a.gguf_file, "dtype": a.dtype, "device": a.device}
    attn = VARIANTS[a.train_variant].get("attn") if a.train_variant else None
    settings["attn_implementation"] = attn or a.attn
    if a.random_weights or a.arch:
        model, tok = random_llm(a, settings)
    else:
        model, tok = load_llm({**settings, "load_in_4bit": a.load_in_4bit})
    res["parameters_m"] = sum(p.numel() for p in model.parameters()) / 1e6
    if a.device.startswith("cuda"):
        # CUDA's lazy start (context, kernels, cuBLAS handles) must not land in the first timed section
        with torch.no_grad():
            model(torch.ones(2, 16, dtype=torch.long, device=a.device))
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    print(json.dumps(res), flush=True)
    items = pl.read_parquet(Path(a.data_dir) / "items.parquet").sort("item")
    if a.train_variant:  # a child process of train_variants(): one training run, one marked JSON line
        print(TRAIN_MARK + json.dumps(train_one(a, model, tok, items)), flush=True)
        return

    # 1. item tokenization: batched vs one item at a time (same items, same iterations)
    if "item_tokens" in a.sections:
        sub = encode_sentences(tok, items["sentence"].to_list(), a.prefix_text)[: a.items]
        kw = dict(iterations=a.iterations, lr=0.05, init="text_mean", progress=False)
        _, fb, _, wb = learn_item_tokens(model, sub, tok.pad_token_id, batch_items=len(sub), **kw)
        _, f1, _, w1 = learn_item_tokens(model, sub, tok.pad_token_id, batch_items=1, **kw)
        res["item_tokens"] = {
            "items": len(sub),
            "iterations": a.iterations,
            "batched_item_it_per_s": len(sub) * a.iterations / wb,
            "single_item_it_per_s": len(sub) * a.iterations / w1,
            "speedup": w1 / wb,
            "final_loss_max_abs_diff": float((fb - f1).abs().max()),
        }
        print(json.dumps(res["item_tokens"]), flush=True)
        if a.init_iterations:
            curves = {}
            for init in ("random", "text_mean"):
                _, _, c, _ = learn_item_tokens(
                    model,
                    sub,
                    tok.pad_token_id,
                    iterations=a.init_iterations,
                    lr=0.05,
                    batch_items=len(sub),
                    init=init,
                    progress=False,
                )
                curves[init] = c
            target = curves["random"][-1]
            reach = next((i + 1 for i, v in enumerate(curves["text_mean"]) if v <= target), None)
            res["init"] = {"curves": curves, "text_mean_iterations_to_random_final": reach}
            print(json.dumps(res["init"]), flush=True)

    # 2. LE training: each step variant in its own process (so each has its own peak RSS), on the same
    # transitions with the same seed; ratios against the naive step of this run
    seqs, splits, n_items = load_sequences(a.data_dir)
    if "train" in a.sections:
        res["train"] = train_variants(a)
    if "inference" not in a.sections:
        _finish(a, res)
        return
    le, prompter = build_le(a, model, tok, items, {"lora_r": 8, "lora_alpha": 16})

    # 3. inference: naive vs fast paths on the same rows
    # kv_share=True: time the shared-cache paths even on a GPU, where the pipeline turns them off by default
    inf = LEInference(le, prompter, batch_size=a.batch_size, progress=False, kv_share=True)
    res["kv_share_default"] = LEInference(le, prompter).kv_share
    ids = le_subset(splits, 1.0)[: a.sequences]
    s_list = [seqs[s] for s in ids]
    hist = [s[max(0, p - 10) : p] for s in s_list for p in range(len(s) + 1)]
    t0 = time.perf_counter()
    naive = inf.states(hist)
    tn = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = torch.cat(inf.sequence_states(s_list))
    tf = time.perf_counter() - t0
    res["states"] = {
        "rows": len(hist),
        "naive_rows_per_s": len(hist) / tn,
        "fast_rows_per_s": len(hist) / tf,
        "speedup": tn / tf,
        "max_abs_diff": float((naive - fast).abs().max()),
        "max_abs_state": float(naive.abs().max()),
    }
    print(json.dumps(res["states"]), flush=True)
    rng = random.Random(0)
    rh = [s[max(0, p - 10) : p] for s in s_list for p in range(len(s))]
    acts = [[s[p]] + [rng.randrange(n_items) for _ in range(a.negatives)] for s in s_list for p in range(len(s))]
    flat_h = [h for h in rh for _ in acts[0]]
    flat_a = [x for al in acts for x in al]
    t0 = time.perf_counter()
    rn = inf.rewards(flat_h, flat_a).view(len(rh), -1)
    tn = time.perf_counter() - t0
    t0 = time.perf_counter()
    rf = inf.rewards_shared(rh, acts)
    tf = time.perf_counter() - t0
    res["rewards"] = {
        "rows": len(flat_a),
        "naive_rows_per_s": len(flat_a) / tn,
        "fast_rows_per_s": len(flat_a) / tf,
        "speedup": tn / tf,
        "max_abs_diff": float((rn - rf).abs().max()),
        "max_abs_reward": float(rn.abs().max()),
    }
    print(json.dumps(res["rewards"]), flush=True)
    # augmentation (le_augment): naive = one p_t p_lt prompt per row + one reward prompt per listed item, vs
    # choice_scores (one p_t pass; the list part and the 5 action parts on its KV cache)
    cands = [rng.sample(range(n_items), 5) for _ in rh]
    t0 = time.perf_counter()
    _, prob_n = inf.choose(rh, cands)
    r_n = inf.rewards([h for h in rh for _ in range(5)], [x for c in cands for x in c]).view(len(rh), 5)
    tn = time.perf_counter() - t0
    t0 = time.perf_counter()
    logp_f, r_f = inf.choice_scores(rh, cands)
    tf = time.perf_counter() - t0
    assert r_f is not None
    # the paper's rule (label reading alone) needs only its pick's reward: chosen_only, one reward continuation a row
    t0 = time.perf_counter()
    logp_c, r_c = inf.choice_scores(rh, cands, chosen_only=True)
    tc = time.perf_counter() - t0
    assert r_c is not None
    k_c = logp_c.argmax(1)
    rows = torch.arange(len(rh))
    res["augment"] = {
        "rows": len(rh),
        "naive_rows_per_s": len(rh) / tn,
        "fast_rows_per_s": len(rh) / tf,
        "speedup": tn / tf,
        "fast_chosen_only_rows_per_s": len(rh) / tc,
        "speedup_chosen_only": tn / tc,
        "chosen_only_vs_fast": tf / tc,
        "max_abs_diff_chosen_reward": float((r_c[rows, k_c] - r_n[rows, prob_n.argmax(1)]).abs().max()),
        "same_label_choice": float((k_c == prob_n.argmax(1)).float().mean()),
        "max_abs_diff_label_prob": float((prob_n - logp_f.softmax(1)).abs().max()),
        "max_abs_diff_reward": float((r_n - r_f).abs().max()),
        "same_choice": float(((logp_f + r_f).argmax(1) == (prob_n.log() + r_n).argmax(1)).float().mean()),
    }
    print(json.dumps(res["augment"]), flush=True)
    # precompute.packed (prefix-tree rows, no KV cache), optionally compiled: the same rows, ratios against the
    # KV-cache paths above (which the pipeline uses on the CPU by default)
    for name in [x for x in a.inference_packed.split(",") if x]:
        if name not in ("packed", "packed-compile"):
            raise SystemExit(f"--inference-packed: unknown {name!r} (packed, packed-compile)")
        pk = LEInference(
            le, prompter, batch_size=a.batch_size, progress=False, packed=True, compile=name == "packed-compile"
        )
        t0 = time.perf_counter()
        pk.rewards_shared(rh[:8], acts[:8])  # compilation (and kernel set-up) outside the timing
        pk.choice_scores(rh[:8], cands[:8])
        pk.choice_scores(rh[:8], cands[:8], chosen_only=True)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        r_p = pk.rewards_shared(rh, acts)
        t_r = time.perf_counter() - t0
        t0 = time.perf_counter()
        logp_p, r5_p = pk.choice_scores(rh, cands)
        t_a = time.perf_counter() - t0
        t0 = time.perf_counter()
        pk.choice_scores(rh, cands, chosen_only=True)
        t_c = time.perf_counter() - t0
        assert r5_p is not None
        res[name] = {
            "first_calls_s": first,
            "rewards_rows_per_s": len(flat_a) / t_r,
            "rewards_vs_kv": (len(flat_a) / t_r) / res["rewards"]["fast_rows_per_s"],
            "rewards_max_abs_diff_vs_kv": float((r_p - rf).abs().max()),
            "augment_rows_per_s": len(rh) / t_a,
            "augment_vs_kv": (len(rh) / t_a) / res["augment"]["fast_rows_per_s"],
            "augment_chosen_only_rows_per_s": len(rh) / t_c,
            "augment_chosen_only_vs_kv": (len(rh) / t_c) / res["augment"]["fast_chosen_only_rows_per_s"],
            "augment_max_abs_diff_reward_vs_kv": float((r5_p - r_f).abs().max()),
            "augment_same_choice_vs_kv": float(((logp_p + r5_p).argmax(1) == (logp_f + r_f).argmax(1)).float().mean()),
        }
        print(json.dumps({name: res[name]}), flush=True)
    if a.inference_merged:
        # precompute.merge_lora, last because it merges the LE in place: the KV-cache paths again, on the same rows.
        # The bench's LoRA is every block's (the paper's), freshly initialized (B = 0), so the differences below are
        # the merge's bf16 rounding only; tests/test_env_le.py checks a trained adapter's agreement in fp32
        mg = LEInference(le, prompter, batch_size=a.batch_size, progress=False, kv_share=True, merge_lora=True)
        t0 = time.perf_counter()
        st_m = torch.cat(mg.sequence_states(s_list))
        t_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        r_m = mg.rewards_shared(rh, acts)
        t_r = time.perf_counter() - t0
        t0 = time.perf_counter()
        logp_m, r5_m = mg.choice_scores(rh, cands)
        t_a = time.perf_counter() - t0
        t0 = time.perf_counter()
        logp_mc, _ = mg.choice_scores(rh, cands, chosen_only=True)
        t_c = time.perf_counter() - t0
        assert r5_m is not None
        res["merged"] = {
            "states_rows_per_s": len(hist) / t_s,
            "states_vs_unmerged": (len(hist) / t_s) / res["states"]["fast_rows_per_s"],
            "states_max_abs_diff": float((st_m - fast).abs().max()),
            "rewards_rows_per_s": len(flat_a) / t_r,
            "rewards_vs_unmerged": (len(flat_a) / t_r) / res["rewards"]["fast_rows_per_s"],
            "rewards_max_abs_diff": float((r_m - rf).abs().max()),
            "augment_rows_per_s": len(rh) / t_a,
            "augment_vs_unmerged": (len(rh) / t_a) / res["augment"]["fast_rows_per_s"],
            "augment_chosen_only_rows_per_s": len(rh) / t_c,
            "augment_chosen_only_vs_unmerged": (len(rh) / t_c) / res["augment"]["fast_chosen_only_rows_per_s"],
            "augment_max_abs_diff_reward": float((r5_m - r_f).abs().max()),
            "augment_max_abs_diff_label_logp": float((logp_m - logp_f).abs().max()),
            "augment_same_label_choice": float((logp_mc.argmax(1) == k_c).float().mean()),
        }
        print(json.dumps({"merged": res["merged"]}), flush=True)
    _finish(a, res)


def _finish(a: argparse.Namespace, res: dict) -> None:
    if a.device.startswith("cuda"):
        res["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


DOMAIN = {
    "item": "movie",
    "items": "movies",
    "history": "has watched these movies",
    "next": "be the next movie to be watched",
    "continue": "continue to watch",
}
TRAIN_MARK = "TRAIN_RESULT "
# name: fit settings on top of the bench's (see --train-variants)
VARIANTS = {
    "naive": {"step": "naive", "activation_checkpointing": False},
    "naive-ckpt": {"step": "naive", "activation_checkpointing": True},
    "shared": {"step": "shared", "activation_checkpointing": True},
    "shared-nockpt": {"step": "shared", "activation_checkpointing": False},
    "shared-compile": {"step": "shared", "activation_checkpointing": True, "compile": True},
    "shared-nockpt-compile": {"step": "shared", "activation_checkpointing": False, "compile": True},
    # approximation: LoRA in the top 6 blocks only (not the same model: its losses differ from the naive step's)
    "shared-top6": {"step": "shared", "activation_checkpointing": True, "lora_top_layers": 6},
    # the same without activation checkpointing: the 6 adapted blocks alone keep activations, so memory stays small
    "shared-top6-nockpt": {"step": "shared", "activation_checkpointing": False, "lora_top_layers": 6},
    "shared-top6-nockpt-compile": {
        "step": "shared",
        "activation_checkpointing": False,
        "lora_top_layers": 6,
        "compile": True,
    },
    # the same steps with transformers' eager attention (plain matmuls) instead of SDPA: on this CPU in bf16, SDPA's
    # flash kernel costs more than the rest of a short-row backward pass (docs/results.md); same function
    "naive-eager": {"step": "naive", "activation_checkpointing": False, "attn": "eager"},
    "shared-eager": {"step": "shared", "activation_checkpointing": True, "attn": "eager"},
    "shared-nockpt-eager": {"step": "shared", "activation_checkpointing": False, "attn": "eager"},
    "shared-top6-nockpt-eager": {
        "step": "shared",
        "activation_checkpointing": False,
        "lora_top_layers": 6,
        "attn": "eager",
    },
    # the exact eager step with shorter packed rows: eager attention keeps R x T^2 scores per layer for the backward
    # pass, so rows of half the nodes hold half the attention memory (and compute) for the same nodes; same function
    "shared-nockpt-eager-row256": {
        "step": "shared",
        "activation_checkpointing": False,
        "attn": "eager",
        "row_tokens": 256,
    },
    # memory: micro-batches of 10 or 5 transitions, gradients accumulated (exact, tests/test_env_fast_step.py)
    "shared-nockpt-eager-row256-micro10": {
        "step": "shared",
        "activation_checkpointing": False,
        "attn": "eager",
        "row_tokens": 256,
        "micro_batch": 10,
    },
    "shared-nockpt-eager-row256-micro5": {
        "step": "shared",
        "activation_checkpointing": False,
        "attn": "eager",
        "row_tokens": 256,
        "micro_batch": 5,
    },
    "shared-top6-nockpt-eager-row256": {
        "step": "shared",
        "activation_checkpointing": False,
        "lora_top_layers": 6,
        "attn": "eager",
        "row_tokens": 256,
    },
    # the same rows with the decoder under torch.compile: the eager attention's scale, mask, fp32 softmax and casts and
    # the RMSNorms' fp32 round trips are elementwise passes over [R, heads, T, T] and [R, T, d] that take more time than
    # the matmuls here (torch.profiler, docs/results.md); Inductor fuses them. Same function
    "shared-nockpt-eager-row256-compile": {
        "step": "shared",
        "activation_checkpointing": False,
        "attn": "eager",
        "row_tokens": 256,
        "compile": True,
    },
    "shared-nockpt-eager-row128": {
        "step": "shared",
        "activation_checkpointing": False,
        "attn": "eager",
        "row_tokens": 128,
    },
}


def build_le(a: argparse.Namespace, model, tok, items: pl.DataFrame, lora: dict):  # type: ignore[no-untyped-def]
    """The LE on random item tokens (speed does not depend on their values); with --titles the -IT prompts."""
    from lea.env.model import LE
    from lea.env.prompts import Prompter

    domain = json.loads(a.domain) if a.domain else DOMAIN
    titles = [t or "" for t in items["title"].to_list()] if a.titles else None
    prompter = Prompter(tok, domain, a.prefix_text, 10, titles)
    g = torch.Generator().manual_seed(a.seed)
    tokens = torch.randn(len(items), model.get_input_embeddings().weight.shape[1], generator=g) * 0.02
    return LE(model, tokens, prompter.label_ids, lora), prompter


def train_one(a: argparse.Namespace, model, tok, items: pl.DataFrame) -> dict:  # type: ignore[no-untyped-def]
    """One training run of a variant: transitions/s and tokens/s after the first (warm-up) step, the losses."""
    from lea.env.train import fit, le_subset, load_sequences, transitions

    seqs, splits, n_items = load_sequences(a.data_dir)
    # LoRA dropout off: both steps then compute the same function, so their losses can be compared step by step
    fit_keys = {k: v for k, v in VARIANTS[a.train_variant].items() if k != "attn"}  # attn: applied at load (main)
    ft = {"epochs": 1, "batch_size": 20, "lr": 5e-4, "head_lr": 1e-2, "recipe": a.recipe, **fit_keys}
    lora = {"lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "lora_top_layers": ft.get("lora_top_layers")}
    le, prompter = build_le(a, model, tok, items, lora)
    train = transitions(seqs, le_subset(splits, 1.0), 10)
    random.Random(0).shuffle(train)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the model loaded, nothing trained
    log = fit(le, prompter, train[: 20 * a.train_steps], n_items, ft, seed=a.seed, progress=False)
    wall = [r["transitions"] / r["transitions_per_s"] for r in log]
    k = min(a.warmup_steps, len(log) - 1)  # untimed first steps: one-off kernel set-up (and compilation)
    w0, tr0, tk0 = (wall[k - 1], log[k - 1]["transitions"], log[k - 1]["tokens"]) if k > 0 else (0.0, 0, 0)
    w, tr, tk = wall[-1] - w0, log[-1]["transitions"] - tr0, log[-1]["tokens"] - tk0
    return {
        "variant": a.train_variant,
        "settings": VARIANTS[a.train_variant],
        "steps": len(log),
        "timed_steps": len(log) - k,
        "first_steps_s": w0,
        "transitions_per_s": tr / w,
        "tokens_per_s": tk / w,
        "computed_tokens_per_step": log[-1]["computed_tokens"] / len(log),
        "prompt_tokens_per_step": log[-1]["tokens"] / len(log),
        "losses": [r["loss"] for r in log],
        "peak_rss_mb": log[-1]["peak_rss_mb"],
        "peak_rss_before_training_mb": rss_before,
    }


def train_variants(a: argparse.Namespace) -> dict:
    """Run each --train-variants entry in a child process of this script (same arguments), ratios vs naive."""
    import subprocess
    import sys

    out: dict = {
        "transitions": 20 * a.train_steps,
        "batch_size": 20,
        "titles": a.titles,
        "recipe": a.recipe,
        "variants": {},
    }
    args = [x for x in sys.argv[1:]]
    if "--out" in args:  # the child writes no file
        k = args.index("--out")
        del args[k : k + 2]
    for v in a.train_variants.split(","):
        cmd = [sys.executable, __file__, *args, "--train-variant", v]
        p = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in p.stdout.splitlines() if x.startswith(TRAIN_MARK)), None)
        if p.returncode or line is None:
            raise RuntimeError(f"train variant {v} failed ({p.returncode}):\n{p.stderr[-4000:]}")
        out["variants"][v] = json.loads(line[len(TRAIN_MARK) :])
        print(json.dumps(out["variants"][v]), flush=True)
    ref = out["variants"].get("naive")
    if ref is not None:
        for r in out["variants"].values():
            r["transitions_per_s_vs_naive"] = r["transitions_per_s"] / ref["transitions_per_s"]
            r["max_abs_loss_diff_vs_naive"] = max(abs(x - y) for x, y in zip(r["losses"], ref["losses"], strict=True))
    return out


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


# Mistral-7B-v0.1's config.json (architecture only; the vocabulary comes from the tokenizer we have offline)
MISTRAL_7B = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-5,
    "sliding_window": 4096,
    "tie_word_embeddings": False,
}


def random_llm(a: argparse.Namespace, settings: dict):  # type: ignore[no-untyped-def]
    """A model of a known architecture with random weights (speed does not depend on the values)."""
    import tempfile

    from transformers import AutoConfig, AutoModelForCausalLM, MistralConfig

    from lea.llm.load import DTYPES, load_llm, load_tokenizer

    tok = load_tokenizer(settings)
    if a.arch == "mistral-7b":
        cfg = MistralConfig(**MISTRAL_7B, vocab_size=len(tok), pad_token_id=tok.pad_token_id)
    else:
        cfg = AutoConfig.from_pretrained(a.llm)
    if a.num_layers:
        cfg.num_hidden_layers = a.num_layers
    with torch.device(a.device):
        model = AutoModelForCausalLM.from_config(
            cfg, dtype=DTYPES[a.dtype], attn_implementation=settings.get("attn_implementation") or "sdpa"
        )
    if a.load_in_4bit:
        # through the pipeline's own loader, as a real 7B run loads it
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            del model
            if a.device.startswith("cuda"):
                torch.cuda.empty_cache()
            return load_llm({**settings, "path": tmp, "load_in_4bit": True})
    model.requires_grad_(False)
    model.eval()
    return model, tok


if __name__ == "__main__":
    main()
