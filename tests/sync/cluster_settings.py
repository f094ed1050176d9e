"""Settings for the real-qcluster test: the test settings, a short dead-worker timeout, fast polling."""

from wsync_site.test_settings import *  # noqa: F403

WSYNC_STALE_RUN_SECONDS = 5
Q_CLUSTER = {**Q_CLUSTER, "workers": 2, "timeout": 900, "retry": 1000, "poll": 0.5}  # noqa: F405
