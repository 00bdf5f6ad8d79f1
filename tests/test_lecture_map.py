"""Every link of docs/lecture-map.md points at a file that exists and a name defined in it."""
import ast
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
LINK = re.compile(r"\[`([\w.]+)`\]\((\.\./[^)#]+)\)")


def defined_names(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def test_every_lecture_map_link_resolves():
    text = (DOCS / "lecture-map.md").read_text()
    links = LINK.findall(text)
    assert len(links) >= 30
    missing = []
    for symbol, relative in links:
        path = (DOCS / relative).resolve()
        if not path.is_file():
            missing.append(f"{relative}: no such file")
        elif symbol not in defined_names(path):
            missing.append(f"{relative}: {symbol} is not defined there")
    assert not missing, "\n".join(missing)


def test_the_map_covers_the_lectures_ideas():
    text = (DOCS / "lecture-map.md").read_text().lower()
    for idea in ("queries, keys, values", "softmax", "multi-head", "causal masking", "sinusoidal", "bidirectional",
                 "cross-attention", "communication, then computation", "residual", "block_size", "sampling",
                 "masking objective", "o(n²)"):
        assert idea in text, idea
