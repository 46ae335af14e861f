"""The paper's own numbers (``config/paper_results.yaml``), looked up by dataset / backbone / framework / variant."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lea.config import ROOT
from lea.errors import InputError, MissingInputError

PAPER_PATH = ROOT / "config" / "paper_results.yaml"


class PaperResults:
    def __init__(self, data: Mapping[str, Any], path: str | Path = PAPER_PATH) -> None:
        self.data = data
        self.path = str(path)
        if "metrics" not in data:
            raise InputError(path, "key 'metrics' is missing (the metric order of every row)")
        self.metrics: list[str] = list(data["metrics"])
        self._check()

    def _check(self) -> None:
        for table in ("table2", "table3", "table4", "table5"):
            for ds, backbones in (self.data.get(table) or {}).items():
                for bb, fws in backbones.items():
                    for fw, variants in fws.items():
                        for v, row in variants.items():
                            if not isinstance(row, list) or len(row) != len(self.metrics):
                                want = f"{len(self.metrics)} numbers ({', '.join(self.metrics)})"
                                raise InputError(self.path, f"{table}.{ds}.{bb}.{fw}.{v}: expected {want}, got {row!r}")

    def row(
        self, table: str, paper_dataset: str | None, backbone: str, framework: str, variant: str
    ) -> dict[str, float] | None:
        """The paper's metrics of one row, or None when the paper has no such row (or no such dataset)."""
        if paper_dataset is None:
            return None
        try:
            values = self.data[table][paper_dataset][backbone][framework][variant]
        except (KeyError, TypeError):
            return None
        return dict(zip(self.metrics, values, strict=True))

    def table1(self, paper_dataset: str | None) -> dict[str, Any] | None:
        if paper_dataset is None:
            return None
        return (self.data.get("table1") or {}).get(paper_dataset)

    def figure_note(self, figure: str) -> str:
        fig = (self.data.get("figures") or {}).get(figure) or {}
        return fig.get("note") or f"{figure}: the paper gives no numbers in the text."


def load_paper(path: str | Path | None = None) -> PaperResults:
    p = Path(path) if path is not None else PAPER_PATH
    if not p.exists():
        raise MissingInputError(p, "config (config/paper_results.yaml is part of the repository)")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise InputError(p, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(p, "must hold a mapping at top level")
    return PaperResults(data, p)
