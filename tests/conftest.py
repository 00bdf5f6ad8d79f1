"""Shared fixtures: where the real data lives, and fresh tiny configs.

Real data comes from `$HF101_DATA_DIR` or `../shared/data` beside the checkout; tests that need it ask for the
`data_dir` fixture and are skipped, with the reason, when it is absent.
"""
import os
from pathlib import Path

# Tests use tiny tensors: one thread per process avoids two-core oversubscription (about 3x faster here), and
# the variable reaches the recipe subprocesses the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_data_dir() -> Path | None:
    candidates = [os.environ.get("HF101_DATA_DIR"), REPO_ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir()
    if found is None:
        pytest.skip("real data not found: set HF101_DATA_DIR or place shared/data beside the checkout")
    return found
