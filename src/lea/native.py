"""Small C kernels compiled at first use, for exact fast paths of torch operations (lea.rl.adam, lea.rec.dropout).

Each kernel repeats, element by element, the arithmetic of the torch operation it replaces, so its results are the
same bit for bit; the module that uses one checks it against torch once per process and falls back to torch where
no C compiler is found (``CC``, else ``cc``, else ``gcc``), the source does not compile, or the check fails. A
library is compiled per process into a temporary folder: ``-march=native`` fits this host only, so nothing is
cached on a disk that other hosts may share (a SLURM cluster's home folder).
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# -ffp-contract=off: a multiply-add is fused only where the source writes fmaf (as torch's kernels do); no
# -ffast-math, so IEEE order and rounding are kept; 512-bit vectors where the CPU has them
FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-ffp-contract=off", "-shared", "-fPIC")


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


@functools.cache
def load(source: str) -> ctypes.CDLL | None:
    """The shared library of a C source, compiled once per process and source; None if it cannot be."""
    cc = compiler()
    if not cc:
        return None
    with tempfile.TemporaryDirectory(prefix="lea-native-") as tmp:
        src, lib = Path(tmp) / "kernels.c", Path(tmp) / "kernels.so"
        src.write_text(source)
        try:
            subprocess.run([cc, *FLAGS, str(src), "-o", str(lib), "-lm"], check=True, capture_output=True, timeout=60)
            return ctypes.CDLL(str(lib))  # loaded: the file may go with the folder
        except (OSError, subprocess.SubprocessError):
            return None
