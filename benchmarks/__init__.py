"""Benchmarks: retrieval quality side by side with the alternatives, latency, start-up and
memory, and throughput of the whole bot.

Run everything with ``python -m benchmarks`` (``--quick`` for a shorter smoke run). These are
scripts, not tests: they measure and report, and never fail a build, because timings depend on
the machine. Their extra dependencies are the ``bench`` extra (``pip install -e '.[bench]'``).
"""
