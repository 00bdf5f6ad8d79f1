"""modeling/ travels to the Hub with every model: it may import only the standard library, torch, transformers,
and its own files through `from .name import X` (the one form transformers' remote-code loader follows). An import
guarded by `try: ... except ImportError:` is optional — the code must work without it, and transformers' loader
skips it when it checks a remote-code folder's requirements."""
import ast
import sys
from pathlib import Path

MODELING = Path(__file__).resolve().parents[1] / "modeling"
ALLOWED_TOP_LEVEL = {"torch", "transformers"}


def optional_import_nodes(tree):
    """The imports inside the body of a `try` that catches ImportError."""
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(handler.type, ast.Name) and handler.type.id in ("ImportError", "ModuleNotFoundError")
                for handler in node.handlers):
            optional |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return optional


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    optional = optional_import_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level


def test_modeling_imports_only_stdlib_torch_transformers_and_siblings():
    files = sorted(MODELING.glob("*.py"))
    assert files, f"no modeling files under {MODELING}"
    assert not [p for p in MODELING.iterdir() if p.is_dir() and p.name != "__pycache__"], "no sub-folders allowed"
    problems = []
    for path in files:
        for line, module, level in imported_modules(path):
            top = module.split(".")[0]
            if level == 1 and module and "." not in module and (MODELING / f"{module}.py").exists():
                continue
            if level == 0 and (top in ALLOWED_TOP_LEVEL or top in sys.stdlib_module_names):
                continue
            problems.append(f"{path.name}:{line} imports {'.' * level}{module}")
    assert not problems, "forbidden imports in modeling/:\n" + "\n".join(problems)
