"""A YAML file a company writes (kpiwatch.yml, a metrics/ declaration): read as a mapping, or one sentence naming
the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kpiwatch.errors import ConfigError


def read_yaml_mapping(path: Path, holds: str) -> dict[str, Any]:
    """The file's mapping (empty for an empty file); `holds` says what the mapping holds, for the message."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error}).") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: is not valid YAML{where}.") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: must be a mapping with {holds}.")
    return document
