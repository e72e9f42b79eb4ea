"""Backtests: score snapshot signals against realized forward returns with DuckDB over Parquet.

Modules by boundary (like freqtrade's optimize/): `layout` says what each data set must hold,
`store` reads and writes files (local folder or s3://), `scoring` is the SQL, `render` turns result
tables into Markdown and plots, `report` runs the three in order. `synth`, `export` and `bars`
produce the Parquet data sets; `cli` is the `trader data` / `trader backtest` commands.
"""
