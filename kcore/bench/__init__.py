"""`kcore bench`: end-to-end benchmark scenarios, each measured beside a real peer in the same
run (etcd, HAProxy, `docker run`, the Docker stats API, the NumPy reference) or beside a
published figure with its source, printed as a table and written as JSON and PNG plots.

The harness (registry, progress phases, cleanup, results, table, plots) is in this package;
each scenario is one module in `kcore.bench.scenarios`.
"""
