"""Re-make docs/lineage.png: the Dagster UI's asset lineage, rendered by headless Chromium.

    .venv/bin/python scripts/screenshot_lineage.py [--path /asset-groups] [--out docs/lineage.png]

Starts dagster-webserver on a free loopback port with a throw-away instance, takes the screenshot, stops it.
Needs Debian's chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kpiwatch.hosting.instance import write_instance_config  # noqa: E402
from kpiwatch.hosting.webserver import Webserver  # noqa: E402
from kpiwatch.paths import DOCS_DIR  # noqa: E402
from kpiwatch.settings import load_settings  # noqa: E402
from orchestration.dbt_project import prepare_dbt_manifest  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="/asset-groups", help="UI page to capture (default: global asset lineage)")
    parser.add_argument("--out", type=Path, default=DOCS_DIR / "lineage.png")
    parser.add_argument("--size", default="1800,1000")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("chromium is not installed: sudo apt-get install -y chromium", file=sys.stderr)
        return 2
    prepare_dbt_manifest(load_settings())
    with tempfile.TemporaryDirectory() as work:
        home = Path(work) / "home"
        write_instance_config(home)
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        with Webserver(free_port(), env, Path(work) / "webserver.log") as ui:
            subprocess.run(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={work}/chromium",
                    f"--window-size={args.size}",
                    "--virtual-time-budget=20000",
                    f"--screenshot={args.out.resolve()}",
                    ui.url + args.path,
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
