"""Audit trail: an append-only record of every change and every sensitive read."""
