"""Benchmarks: `make bench`. Not tests: numbers go to docs/benchmarks.md, never into assertions."""
