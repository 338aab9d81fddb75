"""Domain rules: plain Python, no I/O."""
