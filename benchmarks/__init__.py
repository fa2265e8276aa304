"""Benchmarks for nb_oauth: request overhead, token fetch, refresh storms, extension load,
redirect handling and a long run across token expiries.

Run ``python -m benchmarks.run`` (``--quick`` for a short smoke run). Compared variants are
interleaved round by round, so drift on a shared machine hits every variant alike; ratios,
not absolute times, are what the targets judge.
"""
