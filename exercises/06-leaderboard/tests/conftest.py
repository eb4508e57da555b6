"""A Redis for the visible tests: fakeredis over TCP, or BACKEND_KIT_TEST_REDIS_URL (runner.visible)."""

pytest_plugins = ["runner.visible"]
