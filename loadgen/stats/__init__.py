"""Latency histograms and per-job accumulators, shared by the worker and the controller."""
