"""Shared fixtures: one compiled classifier per test session, caches under a temp data dir."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session", autouse=True)
def _data_dir(tmp_path_factory):
    """Tests never write into the developer's data/ folder."""
    path = tmp_path_factory.mktemp("reprowatch-data")
    os.environ["REPROWATCH_DATA"] = str(path)
    yield path


@pytest.fixture(scope="session")
def classifier(_data_dir):
    from classifiers import Classifier

    return Classifier.load()


@pytest.fixture(scope="session")
def cli_bin():
    """The installed console script next to the running interpreter."""
    exe = Path(sys.executable).parent / "reprowatch"
    assert exe.exists(), f"{exe} missing: run `make test`, which installs the project"
    return str(exe)
