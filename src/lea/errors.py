"""Errors users see. Every message names the file, row or key, and what was expected."""

from __future__ import annotations


class LeaError(Exception):
    """Base class: a problem the user can fix (bad input, bad config, missing upstream output)."""


class InputError(LeaError):
    """Bad input data. Formats as ``file:line: message`` when a line is known."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(LeaError):
    """Bad configuration: names the key (dotted path) and what was expected."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class MissingInputError(LeaError):
    """An upstream stage's output is missing; names the stage and the file."""

    def __init__(self, path: object, stage: str) -> None:
        self.path = str(path)
        self.stage = stage
        super().__init__(
            f"{self.path} is missing: run the '{stage}' stage first "
            f"(e.g. `snakemake {self.path}` builds it and what it needs)"
        )
