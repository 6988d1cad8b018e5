"""Synthetic landing zones that follow feeds.md, for the demo, tests and benchmarks."""
