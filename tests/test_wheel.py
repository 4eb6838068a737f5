"""The built wheel carries everything a run needs, and runs from an unrelated directory in a fresh venv."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import duckdb
import pytest

from kpiwatch.paths import REPO_ROOT

pytestmark = pytest.mark.slow
BUNDLED = ("dbt_project", "expectations", "monitoring", "docs")
CODE = ("kpiwatch", "orchestration", "metrics")
AS_OF = "2024-03-31"


def tracked_files() -> list[str]:
    """The checkout's files as git sees them (tracked and new, ignored ones left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [name for name in listed.stdout.splitlines() if (REPO_ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built the way `pip wheel .` builds it, from a copy of the checkout (the build writes build/
    and egg-info beside the sources; the checkout the other tests read stays untouched)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((REPO_ROOT / name).read_bytes())
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(source), "--wheel-dir", str(out)]
    done = subprocess.run(build, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("kpiwatch-*.whl")
    return built


def test_the_wheel_carries_every_module_and_every_bundled_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = tracked_files()
    modules = {name for name in files if name.endswith(".py") and name.split("/")[0] in CODE}
    assert modules and modules <= names, sorted(modules - names)
    bundled = {
        f"kpiwatch/bundled/{name}"
        for name in files
        if name.split("/")[0] in BUNDLED and name != "dbt_project/.user.yml"
    }
    assert bundled and bundled <= names, sorted(bundled - names)
    assert not [n for n in names if "/target/" in n or "__pycache__" in n or n.endswith(".pyc")]


def console_scripts_of_dependencies(bin_dir: Path, python: Path) -> None:
    """The console scripts (dbt, dagster, ...) of the packages already installed here, written into the fresh
    venv as pip writes them. A full install from the package index takes over a minute and installs the same
    files; what this test proves is what the wheel itself carries."""
    for dist in metadata.distributions():
        if dist.metadata["Name"] == "kpiwatch":
            continue
        for entry in dist.entry_points.select(group="console_scripts"):
            module, _, attribute = entry.value.partition(":")
            target = f"import {module} as m; sys.exit(m.{attribute}())" if attribute else f"import {module}"
            script = bin_dir / entry.name
            script.write_text(f"#!{python}\nimport sys\n{target}\n")
            script.chmod(0o755)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    """A new venv with the wheel installed by pip (not editable) and this venv's dependencies beside it."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)]
    done = subprocess.run(install, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    site_packages = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # A plain path in a .pth file: this venv's packages are importable, its own .pth files (the editable
    # kpiwatch of the checkout among them) are not processed, so `kpiwatch` can only come from the wheel.
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    console_scripts_of_dependencies(venv / "bin", python)
    return venv


def test_the_installed_wheel_runs_a_project_made_by_init_from_another_directory(tmp_path, fresh_venv, job_env):
    """`kpiwatch init`, then `generate` and `run` with --project from a directory that is neither the checkout nor
    the project: the run reads the dbt project, suites and rules bundled in the wheel, the project's own seeds
    (an extra currency here), and writes its warehouse, dbt artifacts, Dagster instance and report under the
    project, never into the installed package nor the directory it was started in."""
    bin_dir = fresh_venv / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPIWATCH_", "DAGSTER_", "PYTHON"))}
    env.update(PATH=f"{bin_dir}:/usr/bin:/bin", KPIWATCH_PUSHGATEWAY_URL=job_env["KPIWATCH_PUSHGATEWAY_URL"])
    elsewhere, project = tmp_path / "elsewhere", tmp_path / "acme"
    elsewhere.mkdir()

    def kpiwatch(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([bin_dir / "kpiwatch", *args], capture_output=True, text=True, env=env, cwd=elsewhere)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        return done

    where = subprocess.run(
        [bin_dir / "python", "-c", "import kpiwatch.paths as p; print(p.RESOURCES_DIR, p.WORK_DIR)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
        check=True,
    ).stdout.split()
    installed = next(fresh_venv.glob("lib/python*/site-packages/kpiwatch/bundled"))
    assert where == [str(installed), str(elsewhere)]

    kpiwatch("init", str(project))
    with open(project / "seeds" / "fx_rates.csv", "a") as seed:
        seed.write("CHF,1.13000000\n")
    seeds_before = {path.name: path.read_text() for path in (project / "seeds").iterdir()}
    kpiwatch("--project", str(project), "generate", "--users", "300", "--days", "120", "--as-of", AS_OF)
    done = kpiwatch("--project", str(project), "run", "--as-of", AS_OF)
    assert "succeeded" in done.stdout

    for written in (
        "data/kpiwatch.duckdb",
        "data/dbt_target/manifest.json",
        f"data/reports/{AS_OF}.html",
        ".dagster_home",
    ):
        assert (project / written).exists(), written
    assert list(elsewhere.iterdir()) == []
    # dbt writes a seed's run SQL under its path; a project's seeds have absolute paths (macros/noop_statement.sql).
    assert {path.name: path.read_text() for path in (project / "seeds").iterdir()} == seeds_before
    assert not [p for p in installed.rglob("*") if p.name in ("target", "logs", ".user.yml")]
    con = duckdb.connect(str(project / "data" / "kpiwatch.duckdb"), read_only=True)
    try:
        (rate,) = con.execute("select usd_per_unit from reference.fx_rates where currency = 'CHF'").fetchone()
        assert float(rate) == 1.13
    finally:
        con.close()
