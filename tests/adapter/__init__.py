"""Adapter tests: inbound and outbound channels against real servers."""
