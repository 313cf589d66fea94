"""Deployable functions."""
