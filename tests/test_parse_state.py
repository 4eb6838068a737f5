"""dbt's parse state is kept per profile: a run finds its own warehouse's state after runs on others."""

import os

from kpiwatch.dbt_support.parse_state import (
    KEPT_STATES,
    PARTIAL_PARSE_FILE,
    STATES_DIRECTORY,
    keep_parse_state,
    profile_key,
    seed_parse_state,
)

A = {"KPIWATCH_DUCKDB_PATH": "/data/a.duckdb"}
B = {"KPIWATCH_DUCKDB_PATH": "/data/b.duckdb"}


def run(root, name, profile, produces):
    """A run's target seeded from the root, then dbt writing `produces` as its state, then kept."""
    target = root / name
    target.mkdir()
    seed_parse_state(root, target, profile)
    seeded = (target / PARTIAL_PARSE_FILE).read_text() if (target / PARTIAL_PARSE_FILE).exists() else None
    (target / PARTIAL_PARSE_FILE).write_text(produces)
    keep_parse_state(root, target, profile)
    return seeded


def test_each_profile_gets_its_own_state_back_after_runs_on_another(tmp_path):
    assert run(tmp_path, "1", A, "state of a") is None
    assert run(tmp_path, "2", B, "state of b") == "state of a"  # no state of its own yet: the newest
    assert run(tmp_path, "3", A, "state of a, later") == "state of a"
    assert run(tmp_path, "4", B, "state of b, later") == "state of b"
    assert (tmp_path / PARTIAL_PARSE_FILE).read_text() == "state of b, later"


def test_a_run_that_left_no_state_changes_nothing(tmp_path):
    run(tmp_path, "1", A, "state of a")
    (tmp_path / "2").mkdir()
    keep_parse_state(tmp_path, tmp_path / "2", B)
    assert sorted(p.name for p in (tmp_path / STATES_DIRECTORY).iterdir()) == [f"{profile_key(A)}.msgpack"]


def test_secrets_are_not_part_of_the_key_and_only_the_newest_states_are_kept(tmp_path):
    with_password = {**A, "KPIWATCH_SNOWFLAKE_PASSWORD": "hunter2", "KPIWATCH_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "x"}
    assert profile_key(with_password) == profile_key(A) != profile_key(B)
    for i in range(KEPT_STATES + 3):
        run(tmp_path, f"run{i}", {"KPIWATCH_DUCKDB_PATH": f"/data/{i}.duckdb"}, f"state {i}")
        for state in (tmp_path / STATES_DIRECTORY).iterdir():  # mtimes one second apart, oldest first
            os.utime(state, (state.stat().st_atime, state.stat().st_mtime - 1))
    kept = {p.name for p in (tmp_path / STATES_DIRECTORY).iterdir()}
    newest = [{"KPIWATCH_DUCKDB_PATH": f"/data/{i}.duckdb"} for i in range(3, KEPT_STATES + 3)]
    assert kept == {f"{profile_key(profile)}.msgpack" for profile in newest}
