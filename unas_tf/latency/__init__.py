"""Latency of architectures: measured on the search's device, and its linear surrogate."""
