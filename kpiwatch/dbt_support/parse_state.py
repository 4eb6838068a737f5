"""dbt's parse state (partial_parse.msgpack), kept per profile so each dbt call re-parses only what changed.

dbt throws its saved state away when the profile's connection values differ (for DuckDB: the warehouse
file's path), and parses the whole project again: about 2.5 s of CPU. One state per profile, besides the
newest one, lets runs that alternate between warehouses (a production file and a backfill copy, several
projects sharing a target directory, the test suite) each find their own. Standard library only: the
start-up code copies a state before any heavy import.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # dbt's own name, in the target directory it is given
STATES_DIRECTORY = "parse_states"  # under the target root: <profile key>.msgpack
KEPT_STATES = 8  # about 1 MB each; the least recently used go first
SECRET_WORDS = ("PASSWORD", "PASSPHRASE", "TOKEN", "SECRET")


def profile_key(profile_env: Mapping[str, str]) -> str:
    """A file name for the profile's values. Secrets are left out: they never reach a file name, even hashed,
    and a changed password does not change what dbt parses."""
    values = {k: v for k, v in profile_env.items() if not any(word in k.upper() for word in SECRET_WORDS)}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:24]


def seed_parse_state(target_root: Path, target: Path, profile_env: Mapping[str, str]) -> None:
    """Start `target` from this profile's saved state, else from the newest state of any profile (dbt then
    parses in full, as it would have anyway)."""
    own = target_root / STATES_DIRECTORY / f"{profile_key(profile_env)}.msgpack"
    for state in (own, target_root / PARTIAL_PARSE_FILE):
        if state.exists():
            shutil.copy2(state, target / PARTIAL_PARSE_FILE)
            os.utime(state)  # recently used: kept longest
            return


def keep_parse_state(target_root: Path, target: Path, profile_env: Mapping[str, str]) -> None:
    """Keep the state dbt left in `target` as this profile's and as the newest. Each file is replaced
    atomically: runs on other warehouses may be reading them."""
    produced = target / PARTIAL_PARSE_FILE
    if not produced.exists():
        return
    states = target_root / STATES_DIRECTORY
    states.mkdir(parents=True, exist_ok=True)
    for destination in (states / f"{profile_key(profile_env)}.msgpack", target_root / PARTIAL_PARSE_FILE):
        staged = destination.parent / f".{destination.name}.{target.name}"
        shutil.copy2(produced, staged)
        os.replace(staged, destination)
    _prune(states)


def _prune(states: Path) -> None:
    """Keep the KEPT_STATES most recently used states."""
    kept = sorted(states.glob("*.msgpack"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[KEPT_STATES:]:
        old.unlink(missing_ok=True)
