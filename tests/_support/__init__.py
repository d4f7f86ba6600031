"""Servers the integration tests and benchmarks talk to, run from third-party packages."""
