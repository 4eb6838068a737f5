"""The sample company: generated raw data, planted business anomalies and injected data faults."""
