"""Fixtures of the platform tests."""

from tests.medsync.hook_server import hook_server  # noqa: F401 - a fixture
