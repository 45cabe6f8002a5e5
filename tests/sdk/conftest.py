"""SDK tests run the real pipeline; keep each test's JetStream streams small.

Every test gets its own memory-backed streams, and JetStream reserves a
stream's max_bytes up front, so the default 10 GiB would exhaust the server
after a test or two.
"""

import pytest

from config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"stream_max_bytes": 64 * 1024 * 1024})
