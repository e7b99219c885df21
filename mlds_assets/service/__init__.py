"""What the faces share (the `mlds` CLI, the read API, the benchmarks): the Dagster instance, launching runs and
reading their outcome, ingesting a file, the store's status and search, the daily report.

`cli.py` parses arguments and prints; `api.py` declares routes; both call down into here, and nothing here
imports either of them. Kept light: each module imports what it needs, so that a keyword search
(`service.store`) does not load Dagster.
"""
