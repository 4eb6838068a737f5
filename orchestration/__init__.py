"""Dagster definitions for kpiwatch: raw sources, dbt models, checks, publishing, schedules."""
