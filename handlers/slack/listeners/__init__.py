"""Bolt listeners, one module per kind of request; each registers itself with `register`."""
