"""config/paper_results.yaml against the paper's own Markdown tables (typed-in numbers must match)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lea.errors import InputError
from lea.report.paper import PaperResults, load_paper

PAPER_MD = Path(__file__).resolve().parents[2] / "shared" / "paper" / "lea-sigir24.md"
T2 = [
    "normal/base",
    "snqn/base",
    "snqn/LEAR",
    "snqn/LEAS",
    "snqn/LEASR",
    "sa2c/base",
    "sa2c/LEAR",
    "sa2c/LEAS",
    "sa2c/LEASprimeR",
    "sa2c/LEASR",
]


def _rows(md: str, start: str, stop: str) -> list[list[float]]:
    block = md.split(start, 1)[1].split(stop, 1)[0]
    rows = []
    for line in block.splitlines():
        nums = re.findall(r"\d\.\d{4}", re.sub(r"<[^>]+>", "", line))
        if line.startswith("|") and nums:
            rows.append([float(x) for x in nums])
    return rows


@pytest.fixture(scope="module")
def md() -> str:
    if not PAPER_MD.exists():
        pytest.skip(f"paper text not found at {PAPER_MD}")
    return PAPER_MD.read_text()


def test_table2_matches_the_paper(md):
    paper = load_paper()
    rows = _rows(md, "**Table 2:", "**Table 3:")
    assert len(rows) == 20
    for i, nums in enumerate(rows):
        bb = "sasrec" if i < 10 else "gru"
        fw, v = T2[i % 10].split("/")
        for j, ds in enumerate(("LFM", "Industry")):
            got = paper.row("table2", ds, bb, fw, v)
            assert [got[m] for m in paper.metrics] == nums[6 * j : 6 * j + 6], (ds, bb, fw, v)


def test_tables_3_to_5_match_the_paper(md):
    paper = load_paper()
    t3 = _rows(md, "**Table 3:", "**Figure 4:")
    order3 = ["normal/base", "normal/sv", "sa2c/base", "sa2c/sv", "sa2c/q", "sa2c/svq"]
    for nums, key in zip(t3, order3, strict=True):
        fw, v = key.split("/")
        for j, ds in enumerate(("LFM", "Industry")):
            assert list(paper.row("table3", ds, "sasrec", fw, v).values()) == nums[6 * j : 6 * j + 6]
    t4 = _rows(md, "**Table 4:", "**Table 5:")
    for i, nums in enumerate(t4):
        ds = "LFM" if i < 4 else "Industry"
        v = ["base", "LER", "LEA", "LEAR"][i % 4]
        assert list(paper.row("table4", ds, "sasrec", "sa2c", v).values()) == nums
    t5 = _rows(md, "**Table 5:", "datasets are reported")
    for i, nums in enumerate(t5):
        bb = "sasrec" if i < 3 else "gru"
        v = ["base", "LESprime", "LES"][i % 3]
        assert list(paper.row("table5", "LFM", bb, "sa2c", v).values()) == nums


def test_lookup_misses_and_bad_rows(tmp_path):
    paper = load_paper()
    assert paper.row("table2", None, "sasrec", "sa2c", "base") is None  # the demo has no paper dataset
    assert paper.row("table5", "Industry", "sasrec", "sa2c", "LES") is None  # the paper has no such row
    assert "no numbers" in paper.figure_note("fig4a")
    with pytest.raises(InputError, match=r"table2\.LFM\.gru\.sa2c\.base: expected 6 numbers"):
        PaperResults({"metrics": ["hr@5"] * 6, "table2": {"LFM": {"gru": {"sa2c": {"base": [0.1]}}}}}, "x.yaml")
