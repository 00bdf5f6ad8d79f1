"""Run a script in a fresh Python that cannot import hf_transformer101 — what a Hub user without the package has.

The script gets the folder to load as `FOLDER` and must print one JSON line (the last line of its output).
"""
import json
import os
import subprocess
import sys
import textwrap

BLOCK_PACKAGE = "import sys; sys.modules['hf_transformer101'] = None  # any import of it now fails\n"


def run_without_package(script: str, folder, tmp_path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), TRANSFORMERS_VERBOSITY="error")
    code = BLOCK_PACKAGE + f"FOLDER = {str(folder)!r}\n" + textwrap.dedent(script)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            cwd=str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
