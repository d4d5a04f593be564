"""Comparing sets of runs: loadgen compare."""
