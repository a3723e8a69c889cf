from __future__ import annotations

import pytest
from helpers import tiny_config

from grokinterp.config import TrainConfig


@pytest.fixture
def tiny() -> TrainConfig:
    return tiny_config()
