"""Reading results after the runs: `kpiwatch backtest` (and its plot), `kpiwatch explain`, the headline table."""
