from __future__ import annotations

import pytest
from helpers import tiny_config
from skip_record import (  # noqa: F401 (pytest's hooks, found by name)
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
)

from grokinterp.config import TrainConfig


@pytest.fixture
def tiny() -> TrainConfig:
    return tiny_config()
