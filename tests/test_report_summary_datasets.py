from __future__ import annotations

from lea.report.summary import benchmark_jobs


def _tsv(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t100\n")


def test_stage_times_keep_only_the_enabled_datasets(tmp_path):
    _tsv(tmp_path / "train/demo/gru/normal/base/seed0.tsv", 5)
    _tsv(tmp_path / "train/industry/gru/normal/base/seed0.tsv", 100)
    _tsv(tmp_path / "preprocess/demo.tsv", 1)
    _tsv(tmp_path / "preprocess/demo2.tsv", 7)
    _tsv(tmp_path / "report/demo_table1.tsv", 2)
    jobs = benchmark_jobs(tmp_path, {"demo"})
    assert sorted(jobs["job"].to_list()) == [
        "preprocess/demo",
        "report/demo_table1",
        "train/demo/gru/normal/base/seed0",
    ]
    assert benchmark_jobs(tmp_path).height == 5
