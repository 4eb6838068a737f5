"""Data-quality checks on the raw contract tables: SQL checks and Great Expectations suites."""
