"""Speed of the LLM stages on the same inputs, in one run (a benchmark, not a timed test).

Reports: item tokenization item-iterations/s batched vs one item at a time (and the text-mean vs random init losses);
LE training tokens/s; inference rows/s of states and rewards, naive (one prompt per row, one forward each) vs the
prompt-structure fast paths (prefix-shared states, KV-cached shared history for rewards, one p_t pass for the
augmentation choice and its 5 rewards) with the max abs difference.

    python benchmarks/bench_le.py --llm resources/llm/smollm2/hf --data-dir results/demo/data --out bench_le.json

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
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--random-weights", action="store_true", help="the --llm folder's architecture, random weights")
    ap.add_argument("--arch", choices=["mistral-7b"], default=None, help="a named architecture, random weights")
    ap.add_argument("--num-layers", type=int, default=None, help="override the layer count (smoke tests)")
    ap.add_argument("--load-in-4bit", action="store_true", help="bitsandbytes nf4 (GPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from lea.env.inference import LEInference
    from lea.env.model import LE
    from lea.env.prompts import Prompter
    from lea.env.train import fit, le_subset, load_sequences, transitions
    from lea.llm.item_tokens import encode_sentences, learn_item_tokens
    from lea.llm.load import load_llm

    torch.manual_seed(a.seed)
    res: dict = {
        "device": torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "dtype": a.dtype,
        "weights": "random" if (a.random_weights or a.arch) else "pretrained",
        "arch": a.arch or Path(a.llm).name,
        "load_in_4bit": a.load_in_4bit,
        "versions": {"torch": torch.__version__, "transformers": _version("transformers"), "peft": _version("peft")},
    }
    settings = {"path": a.llm, "gguf_file": a.gguf_file, "dtype": a.dtype, "device": a.device}
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
    enc = encode_sentences(tok, items["sentence"].to_list(), a.prefix_text)
    sub = enc[: a.items]

    # 1. item tokenization: batched vs one item at a time (same items, same iterations)
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

    # 2. LE training tokens/s
    seqs, splits, n_items = load_sequences(a.data_dir)
    tokens = torch.randn(len(items), model.get_input_embeddings().weight.shape[1]) * 0.02
    domain = {
        "item": "movie",
        "items": "movies",
        "history": "has watched these movies",
        "next": "be the next movie to be watched",
        "continue": "continue to watch",
    }
    prompter = Prompter(tok, domain, a.prefix_text, 10)
    le = LE(model, tokens, prompter.label_ids, {"lora_r": 8, "lora_alpha": 16})
    train = transitions(seqs, le_subset(splits, 1.0), 10)
    random.Random(0).shuffle(train)
    ft = {"epochs": 1, "batch_size": 20, "lr": 5e-4}
    log = fit(le, prompter, train[: 20 * a.train_steps], n_items, ft, progress=False)
    res["train"] = {"steps": len(log), "tokens_per_s": log[-1]["tokens_per_s"]}
    print(json.dumps(res["train"]), flush=True)

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
    res["augment"] = {
        "rows": len(rh),
        "naive_rows_per_s": len(rh) / tn,
        "fast_rows_per_s": len(rh) / tf,
        "speedup": tn / tf,
        "max_abs_diff_label_prob": float((prob_n - logp_f.softmax(1)).abs().max()),
        "max_abs_diff_reward": float((r_n - r_f).abs().max()),
        "same_choice": float(((logp_f + r_f).argmax(1) == (prob_n.log() + r_n).argmax(1)).float().mean()),
    }
    print(json.dumps(res["augment"]), flush=True)
    if a.device.startswith("cuda"):
        res["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


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
        model = AutoModelForCausalLM.from_config(cfg, dtype=DTYPES[a.dtype])
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
