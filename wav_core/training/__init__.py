"""Staged flow-matching training of the WAV model."""
