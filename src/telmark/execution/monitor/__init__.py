"""Execution monitoring and early warning: progress against checkpoints, alert rules, inbox."""
