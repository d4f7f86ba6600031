"""Test data builders, one module per domain."""
