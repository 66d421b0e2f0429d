"""Typed configuration, model plans, the results store, resumable training of phases."""
