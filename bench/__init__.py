"""Benchmarks of csops, in one place: `csops bench` (the harness: every pipeline stage at several sandbox scales,
full and incremental, and dbt against the same transformations as plain DuckDB SQL) and the CRM sync benchmark
(`python -m bench.sync`). The sandbox server's own throughput benchmark stays with the server (sandbox/server).

A development tool of the repository, not part of the product: it drives the sandbox and the repository's dbt
project, so it runs from a checkout (`make install`). Nothing here asserts a time.
"""
