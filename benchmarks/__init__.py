"""Benchmarks (not part of the installed package).

This file must exist: pysbd installs a top-level ``benchmarks`` package into
site-packages that would otherwise shadow this directory.
"""
