"""dbt formats every event for every logger, then lets Python's logging drop the lines below the logger's
level (dbt-common's `_Logger.write_line`): each SQL statement's debug events were turned into JSON twice
(stdout and dbt.log, both at info) and thrown away, a tenth of a small build's CPU time. `LevelFirst`, a
dbtRunner callback, adds the level test in front of each logger's filter when the first event arrives, so
what is written stays exactly what dbt would write (print events pass at error level, as dbt sends them).

Only the standard library at the top: `kpiwatch-dbt` starts in milliseconds.
"""

from __future__ import annotations


class LevelFirst:
    """A dbtRunner callback; the loggers of the invocation are the event manager's when it first fires."""

    def __init__(self) -> None:
        self._done = False

    def __call__(self, event) -> None:
        if self._done:
            return
        self._done = True
        from dbt_common.events.event_manager_client import get_event_manager

        for logger in get_event_manager().loggers:
            level_first(logger)


def level_first(logger) -> None:
    """Make `logger` test an event's level before formatting it (once per logger)."""
    from dbt_common.events.logger import _is_print_event, _log_level_map

    original = logger.filter
    if getattr(original, "level_first", False):
        return
    threshold = _log_level_map[logger.level]
    # dbt's own mapping of its levels to Python's; a print event is sent at error level.
    numeric = {level.value: number for level, number in _log_level_map.items()}

    def level_then_filter(msg) -> bool:
        level = 40 if _is_print_event(msg) else numeric.get(msg.info.level, threshold)
        return level >= threshold and original(msg)

    level_then_filter.level_first = True
    logger.filter = level_then_filter
