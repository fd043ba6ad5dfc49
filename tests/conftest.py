"""Shared test set-up."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The tests use tiny models: a second torch thread costs more than it saves, and far more
    on a busy 2-core machine. Each test gets one thread and leaves the setting as it found it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
