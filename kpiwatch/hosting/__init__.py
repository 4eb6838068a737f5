"""Running Dagster for kpiwatch: the instance, its event log, the run lock, one-shot runs and the UI."""
