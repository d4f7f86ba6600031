"""Consent register: marketing opt-outs per channel, do-not-disturb list, statutory blacklist."""
