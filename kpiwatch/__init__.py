"""kpiwatch: SaaS business metrics and data-quality checks computed in the warehouse."""

__version__ = "0.1.0"
