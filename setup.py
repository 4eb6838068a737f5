"""Packages and package data; the rest of the metadata is in pyproject.toml.

dbt_project/, expectations/, monitoring/ and docs/ stay at the repository's top level, where a reader looks for
them, and install as package data under kpiwatch/bundled/, so a wheel carries everything a run reads
(kpiwatch/paths.py finds them there when it is not in a checkout).
"""

from setuptools import find_packages, setup

CODE = ["kpiwatch", "kpiwatch.*", "orchestration", "orchestration.*", "metrics", "metrics.*"]
BUNDLED = ("dbt_project", "expectations", "monitoring", "docs")
LEFT_OUT = ["target/**", "logs/**", "dbt_packages/**", ".user.yml", "**/__pycache__/**"]

setup(
    packages=find_packages(include=CODE) + [f"kpiwatch.bundled.{name}" for name in BUNDLED],
    package_dir={f"kpiwatch.bundled.{name}": name for name in BUNDLED},
    package_data={f"kpiwatch.bundled.{name}": ["**/*"] for name in BUNDLED},
    exclude_package_data={f"kpiwatch.bundled.{name}": LEFT_OUT for name in BUNDLED},
)
