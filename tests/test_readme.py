"""Every command and snippet of README.md runs (recipes at their debug size), in order, in a scratch folder.

A block is skipped only when the line before it says `<!-- not run ... -->` or `<!-- test-command -->` (the
install commands and the test command itself, which CI runs).
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, find_data_dir

BLOCK = re.compile(r"(?P<before>[^\n]*)\n```(?P<language>bash|python)\n(?P<body>.*?)```", re.S)
# What makes each recipe small; arguments written in the README still win over the preset.
DEBUG_ARGUMENTS = {
    "pretrain_gpt.py": ["--preset", "debug"],
    "pretrain_mlm.py": ["--preset", "debug"],
    "train_translation.py": ["--preset", "debug"],
    "finetune_glue.py": ["--preset", "debug"],
    "evaluate_translation.py": ["--max_samples", "8", "--num_beams", "2"],
    "show_attention.py": [],
}


def readme_blocks():
    for match in BLOCK.finditer((REPO_ROOT / "README.md").read_text()):
        if "<!-- not run" in match["before"] or "<!-- test-command -->" in match["before"]:
            continue
        yield match["language"], match["body"]


def bash_commands(body):
    for line in body.replace("\\\n", " ").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield shlex.split(line, comments=True)


def test_readme_commands_and_snippets_run(tmp_path):
    data_dir = find_data_dir()
    if data_dir is None or data_dir != REPO_ROOT.parent / "shared" / "data":
        pytest.skip("the README's commands read ../shared/data beside the checkout, which is absent")
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / "recipes").symlink_to(REPO_ROOT / "recipes")
    (tmp_path / "shared").symlink_to(REPO_ROOT.parent / "shared")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    ran = []
    for language, body in readme_blocks():
        if language == "python":
            commands = [[sys.executable, "-c", body]]
        else:
            commands = list(bash_commands(body))
        for command in commands:
            if command[0] == "python":
                script = Path(command[1]).name
                assert script in DEBUG_ARGUMENTS, f"README runs {script}: add its debug size to DEBUG_ARGUMENTS"
                command = [sys.executable, *command[1:], *DEBUG_ARGUMENTS[script]]
            result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"{command[:4]} failed:\n{result.stderr[-3000:]}"
            ran.append(command)
    assert len(ran) >= 10
