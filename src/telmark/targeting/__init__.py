"""Targeting: contact policy, arbitration, holdouts and the targeting run (issue 7)."""
