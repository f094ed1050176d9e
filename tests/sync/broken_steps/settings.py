"""The real-qcluster settings plus the app whose worker start step and outputs minute step raise."""

from tests.sync.cluster_settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.sync.broken_steps.apps.BrokenStepsConfig"]  # noqa: F405
