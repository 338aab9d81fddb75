"""Fault drills (issue 13): each drill_NN_name.py runs one fault against real servers.

The contract every drill module follows:
- it is named `drill_NN_name.py` (NN two digits) and has `main() -> int`;
- `main` prints one line made by `report.Outcome.line()`:
  `drill NN name: sent=… received=… lost=… doubled=… recover_s=… ok|FAIL`
  (more `key=value` figures may go before `ok|FAIL`), and returns 0 when the drill passed;
- it starts and stops every server it uses (bounded, 127.0.0.1 only) and cleans up after itself.

`python -m bench.drills` (or `make drills`) runs them all; `python -m bench.drills 1 3` runs
the ones named by number (or by name).
"""
