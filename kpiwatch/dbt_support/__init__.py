"""Running dbt for kpiwatch: the dbt process shim and worker, its profile and environment, its logs and what
it reports of each node. Kept free of imports: `kpiwatch-dbt` must start in milliseconds."""
