"""The control environments by name (``le.settings.<name>.env``): each module has ``train_env`` and ``load_env``."""

from __future__ import annotations

from types import ModuleType

from lea.errors import LeaError


def module(env: str) -> ModuleType:
    from lea.control import idrec, oracle, random_env

    mods = {"idrec": idrec, "oracle": oracle, "random": random_env}
    if env not in mods:
        raise LeaError(f"le setting env '{env}' is not a control environment (have: {', '.join(mods)})")
    return mods[env]
