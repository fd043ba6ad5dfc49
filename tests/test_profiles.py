"""Profile resolution: env var, defaults, and a clear error for a bad value."""

import dataclasses

import pytest

from vgan_utils.profiles import ENV_VAR, PROFILES, resolve_profile


def test_env_var_selects_profile(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "ci")
    assert resolve_profile().name == "ci"


def test_explicit_name_beats_env_var(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "ci")
    assert resolve_profile("gpu").name == "gpu"


def test_name_is_case_and_space_insensitive():
    assert resolve_profile(" CPU ").name == "cpu"


@pytest.mark.parametrize(("cuda", "expected"), [(True, "gpu"), (False, "cpu")])
def test_default_follows_cuda(monkeypatch, cuda, expected):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_profile(cuda_available=cuda).name == expected


def test_empty_env_var_means_default(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_profile(cuda_available=False).name == "cpu"


def test_unknown_profile_lists_valid_values(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "laptop")
    with pytest.raises(ValueError, match="'laptop'.*ci, cpu, gpu"):
        resolve_profile()


def test_profiles_share_fields_and_grow_with_budget():
    ci, cpu, gpu = PROFILES["ci"], PROFILES["cpu"], PROFILES["gpu"]
    for field in dataclasses.fields(ci):
        if field.type in ("int", int) and field.name != "num_workers":
            sizes = [getattr(p, field.name) for p in (ci, cpu, gpu)]
            assert sizes == sorted(sizes), field.name
