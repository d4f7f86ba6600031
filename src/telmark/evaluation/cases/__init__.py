"""Evaluation of marketing cases: treatment against control, projection against actual."""
