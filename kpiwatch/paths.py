"""Every path the project needs, anchored once.

Two ways to run: from a checkout (or an editable install of one), which reads and writes its own folders, and
from an installed wheel, which reads the copies of dbt_project/, expectations/, monitoring/ and docs/ bundled
inside the package (setup.py) and writes its data under the directory it was started in.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent
IN_CHECKOUT = (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "dbt_project" / "dbt_project.yml").is_file()

# What a run reads (never written to): the checkout's folders, or the wheel's bundled copies.
RESOURCES_DIR = _CHECKOUT if IN_CHECKOUT else PACKAGE_DIR / "bundled"
# Where a run writes its warehouse, reports, Dagster instance and dbt artifacts by default.
WORK_DIR = _CHECKOUT if IN_CHECKOUT else Path.cwd()

REPO_ROOT = _CHECKOUT  # the checkout itself: tests and scripts that read repository files
DBT_PROJECT_DIR = RESOURCES_DIR / "dbt_project"
EXPECTATIONS_DIR = RESOURCES_DIR / "expectations"
MONITORING_DIR = RESOURCES_DIR / "monitoring"
DOCS_DIR = RESOURCES_DIR / "docs"
DEFAULT_CHECKS_FILE = EXPECTATIONS_DIR / "checks.yml"
DEFAULT_ANOMALIES_FILE = EXPECTATIONS_DIR / "anomalies.yml"

DATA_DIR = WORK_DIR / "data"
DEFAULT_DUCKDB_PATH = DATA_DIR / "kpiwatch.duckdb"
DEFAULT_REPORT_DIR = DATA_DIR / "reports"
DEFAULT_DAGSTER_HOME = WORK_DIR / ".dagster_home"
# dbt writes its artifacts beside the project in a checkout (as a dbt user expects), never inside an install.
DEFAULT_DBT_TARGET_DIR = DBT_PROJECT_DIR / "target" if IN_CHECKOUT else DATA_DIR / "dbt_target"

# The Dagster code location: the checkout's workspace file, or the installed module.
WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"
CODE_LOCATION_ARGS = ["-w", str(WORKSPACE_FILE)] if IN_CHECKOUT else ["-m", "orchestration.definitions"]
