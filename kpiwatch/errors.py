"""One error type whose messages tell the user exactly what to fix."""


class KpiwatchError(Exception):
    """A problem the user can act on; the CLI prints it without a traceback."""


class ConfigError(KpiwatchError):
    """An environment variable or option has a value kpiwatch cannot use."""


class RunError(KpiwatchError):
    """The run could not go on for a reason outside the data and the configuration: the warehouse is
    locked by another process, memory or disk ran out, a file cannot be written. The CLI exits 1."""


class ContractError(KpiwatchError):
    """The raw tables do not match docs/data-contract.md."""
