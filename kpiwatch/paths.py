"""Every path the project needs, anchored once at the repository root."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
DATA_DIR = REPO_ROOT / "data"
DEFAULT_DUCKDB_PATH = DATA_DIR / "kpiwatch.duckdb"
DEFAULT_REPORT_DIR = DATA_DIR / "reports"
DEFAULT_DAGSTER_HOME = REPO_ROOT / ".dagster_home"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
DEFAULT_CHECKS_FILE = EXPECTATIONS_DIR / "checks.yml"
DEFAULT_ANOMALIES_FILE = EXPECTATIONS_DIR / "anomalies.yml"
MONITORING_DIR = REPO_ROOT / "monitoring"
DOCS_DIR = REPO_ROOT / "docs"
WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"
