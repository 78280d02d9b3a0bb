"""Benchmarks for media-artifacts: ``make bench`` (``python -m benchmarks``) prints one table.

Every figure is a ratio to a baseline measured in the same run, on the same machine, so the
table means the same on a fast or a slow disk.  Benchmarks are never tests: nothing here
asserts; a figure that misses its target is marked in the table.  See BENCHMARKS.md.
"""
