"""A test-only app whose worker start step and outputs minute step raise (tests/sync/test_worker_start.py)."""
