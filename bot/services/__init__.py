"""Use cases: one transaction each, called the same way by every channel."""
