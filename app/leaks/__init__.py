"""Leaked keys: reports from secret scanners and people, and what they set off."""
