"""Settings for the real-qcluster tests: the test settings (the default dead-worker delay), fast polling."""

import os as _os

from wsync_site.test_settings import *  # noqa: F403

Q_CLUSTER = {**Q_CLUSTER, "workers": 2, "timeout": 900, "retry": 1000, "poll": 0.5}  # noqa: F405
if _os.environ.get("WSYNC_MEASURE_DEFERRED"):  # measurement only: SQLite's default DEFERRED transactions
    DATABASES["default"]["OPTIONS"].pop("transaction_mode", None)  # noqa: F405
