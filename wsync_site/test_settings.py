"""Settings for the test suite: the embedded defaults in a throwaway data folder."""

import os
import tempfile

os.environ.setdefault("WSYNC_DEV", "1")
os.environ.setdefault("WSYNC_ALLOW_PRIVATE_HOSTS", "1")
os.environ.setdefault("WSYNC_DATA_DIR", tempfile.mkdtemp(prefix="wsync-test-"))

from wsync_site.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
