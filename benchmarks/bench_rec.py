"""Benchmark of the recommender stage (not a timed test): training transitions/s per backbone x framework and
full-ranking evaluation cases/s, on the same data in one run, with ratios against baselines measured in the same run
(training: gru/normal; evaluation: a naive argsort-based ranking of the same scores; the Q-head's gathered pass,
rec.q_pass, against the full pass on a step with the LE state of --le-dim dimensions, Eq. 4; Adam's foreach and blocked
updates against torch's per-tensor loop on whole steps with that state; SASRec's dropout masks drawn in C against
torch's bernoulli_; whole SA2C LEASR runs with every exact fast path against every reference path, with a check
that their losses and weights are identical).

    python benchmarks/bench_rec.py --data-dir results/industry/data          # the Amazon data (after preprocess)
    python benchmarks/bench_rec.py                                           # synthetic data of the same size

Targets on a 2-core CPU with the Amazon data: one SA2C epoch < 60 s; the whole test split evaluated < 10 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from lea.rec.backbones import RecNet
from lea.rec.dropout import Dropout
from lea.rl.negatives import pool_from_data
from lea.rl.replay import attach_pool, build_transitions, load_data
from lea.rl.train import REC_DEFAULTS, Trainer, compute_losses, resolve_device, steps_per_epoch


def set_native_dropout(trainer: Trainer, native: bool) -> None:
    """SASRec's dropout masks drawn in C (the default) or by torch's bernoulli_ (the reference)."""
    for net in trainer.nets:
        for m in net.modules():
            if isinstance(m, Dropout):
                m.native = native


def time_training(tr, n_items, backbone, framework, rec, device, steps, bootstrap_logits=False, native_dropout=True):
    trainer = Trainer(
        backbone, framework, n_items, rec, {"name": "base"}, 0, device=device, bootstrap_logits=bootstrap_logits
    )
    set_native_dropout(trainer, native_dropout)
    perm = torch.randperm(len(tr), generator=torch.Generator().manual_seed(0))
    bs = rec["batch_size"]

    def step(i):
        idx = perm[(i * bs) % (len(tr) - bs) :][:bs]
        trainer.train_step(trainer.make_batch(tr, idx))

    for i in range(5):  # warm-up
        step(i)
    if framework == "sa2c":  # time the post-warm-up phase (the advantage-weighted loss, 2nd optimizer)
        trainer.step = rec["sa2c_warmup_steps"]
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return steps * bs / dt, trainer


def le_batches(tr, n_items, le_dim, rec, n, seed):
    """n batches of random training transitions with random negatives, rewards, augmentation and LE states of le_dim
    (a step's cost does not depend on their values)."""
    g = torch.Generator().manual_seed(seed)
    bs, k = rec["batch_size"], rec["negatives"]

    def batch():
        idx = torch.randint(0, len(tr), (bs,), generator=g)
        return {
            "state": tr.state[idx], "length": tr.length[idx], "action": tr.action[idx],
            "next_state": tr.next_state[idx], "next_length": tr.next_length[idx], "done": tr.done[idx],
            "neg_items": torch.randint(0, n_items, (bs, k), generator=g),
            "pos_reward": torch.rand(bs, generator=g), "neg_reward": torch.rand(bs, k, generator=g),
            "aug_item": torch.randint(0, n_items, (bs,), generator=g), "aug_reward": torch.rand(bs, generator=g),
            "le": torch.randn(bs, le_dim, generator=g), "le_next": torch.randn(bs, le_dim, generator=g),
        }  # fmt: skip

    return [batch() for _ in range(n)]


def time_q_pass(tr, n_items, backbone, framework, le_dim, rec, q_pass, steps, seed=0):
    """Steps/s of one SNQN / SA2C loss + backward with the LE state s^e_t || h_t (Eq. 4), LE states drawn at random
    (the Q-head's cost does not depend on their values), negatives from the shared pool."""
    torch.manual_seed(seed)
    nets = [RecNet(backbone, n_items, rec["hidden"], rec["window"], rec["dropout"], "le+h", le_dim) for _ in range(2)]
    batches = le_batches(tr, n_items, le_dim, rec, steps + 3, seed)

    def step(b):
        nets[0].zero_grad(set_to_none=True)
        out = compute_losses(nets[0], nets[1], b, framework=framework, q_pass=q_pass, weighted_ce=True,
                             variant={"state": "le+h", "reward": "le", "augment": "sv+q"})  # fmt: skip
        out["total"].backward()

    for b in batches[:3]:
        step(b)
    t0 = time.perf_counter()
    for b in batches[3:]:
        step(b)
    return steps / (time.perf_counter() - t0)


def time_adam(tr, n_items, backbone, framework, le_dim, rec, adam, steps, seed=0):
    """Steps/s of whole Trainer steps (losses, backward, Adam) of LEASR (the LE state s^e_t || h_t of le_dim, Eq. 4;
    LE rewards; sv+q) with the gathered Q-pass, Adam's update per tensor (torch's loop, "loop", the reference),
    foreach or blocked (Trainer.adam, "blocked" the default: all bit-identical, tests/test_rl_switches.py); LE states
    drawn at random."""
    variant = {"name": "LEASR", "state": "le+h", "reward": "le", "augment": "sv+q"}
    trainer = Trainer(backbone, framework, n_items, {**rec, "q_pass": "gathered", "sa2c_warmup_steps": 0}, variant,
                      seed, le_dim=le_dim, adam=adam)  # fmt: skip
    batches = le_batches(tr, n_items, le_dim, rec, steps + 3, seed)
    for b in batches[:3]:
        trainer.train_step(b)
    t0 = time.perf_counter()
    for b in batches[3:]:
        trainer.train_step(b)
    return steps / (time.perf_counter() - t0)


def exact_paths(tr, n_items, backbone, le_dim, rec, steps, seed=0):
    """Whole SA2C LEASR runs of ``steps`` updates (half of them SA2C's warm-up) on the same batches, once with every
    exact fast path (Trainer.adam "blocked", SASRec's dropout masks drawn in C, the defaults) and once with every
    reference path (torch's per-tensor Adam loop, torch's bernoulli_): (reference s, fast s, losses and weights
    identical bit for bit)."""
    variant = {"name": "LEASR", "state": "le+h", "reward": "le", "augment": "sv+q"}
    r = {**rec, "q_pass": "gathered", "sa2c_warmup_steps": steps // 2}
    batches = le_batches(tr, n_items, le_dim, rec, steps, seed)

    def go(adam, native_dropout):
        t = Trainer(backbone, "sa2c", n_items, r, variant, seed, le_dim=le_dim, adam=adam)
        set_native_dropout(t, native_dropout)
        t0 = time.perf_counter()
        logs = [t.train_step(b) for b in batches]
        return time.perf_counter() - t0, logs, t.state_dict()

    fast, ref = go("blocked", True), go("loop", False)
    same = fast[1] == ref[1] and all(torch.equal(fast[2][k], ref[2][k]) for k in ref[2])
    return ref[0], fast[0], same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="items/interactions/splits.parquet (default: synthetic)")
    ap.add_argument("--steps", type=int, default=60, help="timed training steps per configuration")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3, help="A/B repeats of the bootstrap comparison (median)")
    ap.add_argument("--le-dim", type=int, default=576, help="LE state size of the Q-pass comparison (SmolLM2: 576)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data_dir = args.data_dir
    if data_dir is None:
        from lea.rl.synthetic import successor_dataset

        data_dir = Path(tempfile.mkdtemp()) / "data"
        successor_dataset(data_dir, n_items=5814, n_seq=10935, min_len=3, max_len=10, noise=0.5)
    items, inter, splits = load_data(data_dir)
    n_items = items.height
    rec = {**REC_DEFAULTS, "batch_size": args.batch_size, "bf16_autocast": args.bf16, "device": args.device}
    device = resolve_device(args.device)
    train = build_transitions(inter, splits, "train", n_items, rec["window"])
    # the Q-head frameworks draw their negatives from the shared pool (lea negatives): the data dir's, else one here
    pool = Path(data_dir) / "negatives.parquet"
    if not pool.exists():
        pool = Path(tempfile.mkdtemp()) / "negatives.parquet"
        pool_from_data(data_dir, rec["negatives"], 0).write_parquet(pool)
    attach_pool(train, pool)
    test = build_transitions(inter, splits, "test", n_items, rec["window"])
    spe = steps_per_epoch(len(train), rec["batch_size"])
    print(
        f"data: {data_dir}  items={n_items} train transitions={len(train)} test cases={len(test)} "
        f"device={device} threads={torch.get_num_threads()} bf16={args.bf16}"
    )
    print(f"{'backbone':8} {'framework':9} {'trans/s':>9} {'x gru/normal':>12} {'epoch s':>8}")
    base = None
    trainers = {}
    for backbone in ("gru", "sasrec"):
        for framework in ("normal", "snqn", "sa2c"):
            tps, trainer = time_training(train, n_items, backbone, framework, rec, device, args.steps)
            trainers[backbone] = trainer
            base = base or tps
            epoch = spe * rec["batch_size"] / tps
            flag = "  (target < 60 s)" if framework == "sa2c" else ""
            print(f"{backbone:8} {framework:9} {tps:9.0f} {tps / base:12.2f} {epoch:8.1f}{flag}")
    # the bootstrap passes (SNQN/SA2C): Q-values only (ours, the default) against the reference that also computes
    # the supervised logits nobody reads (the same losses: tests/test_rl_switches.py), alternating A/B/A/B
    print(f"{'backbone':8} {'framework':9} {'ref t/s':>9} {'q-only t/s':>10} {'x ref':>6}")
    for backbone in ("gru", "sasrec"):
        for framework in ("snqn", "sa2c"):
            ref, fast = [], []
            for _ in range(args.repeats):
                ref.append(time_training(train, n_items, backbone, framework, rec, device, args.steps, True)[0])
                fast.append(time_training(train, n_items, backbone, framework, rec, device, args.steps, False)[0])
            r, f = sorted(ref)[len(ref) // 2], sorted(fast)[len(fast) // 2]
            print(f"{backbone:8} {framework:9} {r:9.0f} {f:10.0f} {f / r:6.2f}")
    # the Q-head's passes with the LE state (LEAS / LEASR): every column (the reference) against the columns the
    # losses read (rec.q_pass: gathered; the same losses: tests/test_rl_switches.py), alternating A/B/A/B
    print(f"{'backbone':8} {'framework':9} {'full st/s':>9} {'gathered':>10} {'x full':>6}  (le+h, d={args.le_dim})")
    for backbone in ("gru", "sasrec"):
        for framework in ("snqn", "sa2c"):
            ref, fast = [], []
            for r in range(args.repeats):
                for q_pass, times in (("full", ref), ("gathered", fast)):
                    sps = time_q_pass(train, n_items, backbone, framework, args.le_dim, rec, q_pass, args.steps, r)
                    times.append(sps)
            r, f = sorted(ref)[len(ref) // 2], sorted(fast)[len(fast) // 2]
            print(f"{backbone:8} {framework:9} {r:9.1f} {f:10.1f} {f / r:6.2f}")
    # SASRec's dropout masks drawn by torch's bernoulli_ (the reference) against the C draw (the default, the same
    # masks and generator state: tests/test_rec_dropout.py), on whole base steps
    print(f"{'backbone':8} {'framework':9} {'torch t/s':>9} {'C draw':>10} {'x torch':>7}  (dropout masks)")
    for framework in ("normal", "sa2c"):
        ref, fast = [], []
        for _ in range(args.repeats):
            for nat, times in ((False, ref), (True, fast)):
                times.append(time_training(train, n_items, "sasrec", framework, rec, device, args.steps, False, nat)[0])
        r, f = sorted(ref)[len(ref) // 2], sorted(fast)[len(fast) // 2]
        print(f"{'sasrec':8} {framework:9} {r:9.0f} {f:10.0f} {f / r:7.2f}")
    # Adam's update per tensor (torch's loop, the reference) against foreach and blocked (the default; all three
    # bit-identical), on whole LEASR steps with the LE state: the update of the [n_items, d + hidden] heads is a
    # large part of such a step
    print(f"{'backbone':8} {'framework':9} {'loop st/s':>9} {'foreach':>10} {'x loop':>6} {'blocked':>10} {'x loop':>6}"
          f"  (LEASR, d={args.le_dim})")  # fmt: skip
    for backbone in ("gru", "sasrec"):
        for framework in ("snqn", "sa2c"):
            times: dict[str, list[float]] = {"loop": [], "foreach": [], "blocked": []}
            for r in range(args.repeats):
                for adam, ts in times.items():
                    ts.append(time_adam(train, n_items, backbone, framework, args.le_dim, rec, adam, args.steps, r))
            r, f, b = (sorted(ts)[len(ts) // 2] for ts in times.values())
            print(f"{backbone:8} {framework:9} {r:9.1f} {f:10.1f} {f / r:6.2f} {b:10.1f} {b / r:6.2f}")
    # every exact fast path against every reference path on whole runs: the same weights, and the time it saves
    print(f"{'backbone':8} {'framework':9} {'ref st/s':>9} {'fast st/s':>10} {'x ref':>6} {'identical':>10}"
          f"  (SA2C LEASR, d={args.le_dim}, {args.steps} steps)")  # fmt: skip
    for backbone in ("gru", "sasrec"):
        t_ref, t_fast, same = exact_paths(train, n_items, backbone, args.le_dim, rec, args.steps)
        print(f"{backbone:8} {'sa2c':9} {args.steps / t_ref:9.1f} {args.steps / t_fast:10.1f} {t_ref / t_fast:6.2f}"
              f" {same!s:>10}")  # fmt: skip
    print(f"{'backbone':8} {'eval':9} {'cases/s':>9} {'x argsort':>12} {'test s':>8}")
    for backbone, trainer in trainers.items():
        t0 = time.perf_counter()
        trainer.ranks(test)
        ours = time.perf_counter() - t0
        net = trainer.nets[0].eval()

        @torch.no_grad()
        def naive(net=net):  # baseline: sort every score row, find the true item's position
            out = []
            for i in range(0, len(test), rec["eval_batch_size"]):
                sc = net.scores(test.state[i : i + 1024].to(device), test.length[i : i + 1024].to(device))
                order = sc.argsort(dim=1, descending=True)
                out.append((order == test.action[i : i + 1024].to(device).view(-1, 1)).float().argmax(1) + 1)
            return torch.cat(out)

        t0 = time.perf_counter()
        naive()
        base_t = time.perf_counter() - t0
        print(
            f"{backbone:8} {'full-rank':9} {len(test) / ours:9.0f} {base_t / ours:12.2f} {ours:8.2f}  (target < 10 s)"
        )


if __name__ == "__main__":
    main()
