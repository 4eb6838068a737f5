"""Re-make docs/report.png: the report of a sample company, rendered by headless Chromium.

    .venv/bin/python scripts/screenshot_report.py [--out docs/report.png]

Generates a 4,000-user company (420 days to 2024-06-30, a spend spike planted on 06-28 so one verdict is red)
in a temporary directory, runs kpiwatch on it (no push), writes its report and takes the screenshot of the
page's top. Needs Debian's chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from screenshot_lineage import CHROMIUM_FLAGS  # the same headless Chromium (this script's directory)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AS_OF = "2024-06-30"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--size", default="1120,1500")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("chromium is not installed: sudo apt-get install -y chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        db, env = Path(work) / "acme.duckdb", {k: v for k, v in os.environ.items() if not k.startswith("KPIWATCH_")}
        env.update(KPIWATCH_DUCKDB_PATH=str(db), DAGSTER_HOME=f"{work}/home", KPIWATCH_PUSHGATEWAY_URL="off",
                   KPIWATCH_DBT_TARGET_DIR=f"{work}/target", KPIWATCH_REPORT_DIR=f"{work}/reports")  # fmt: skip
        generate = ["generate", "--out", str(db), "--users", "4000", "--days", "420", "--seed", "42", "--as-of", AS_OF]
        for command in ([*generate, "--anomaly", "spend_spike@2024-06-28"], ["run", "--as-of", AS_OF]):
            subprocess.run([str(BIN / "kpiwatch"), *command], env=env, check=True, stdout=subprocess.DEVNULL)
        page = Path(work) / "reports" / f"{AS_OF}.html"
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={work}/chromium", f"--window-size={args.size}",
             f"--screenshot={args.out.resolve()}", page.as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
