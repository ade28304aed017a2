"""The README's quickstart runs as written (with one epoch)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"


def _quickstart():
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs(tmp_path, monkeypatch, capsys):
    if not MNIST_DIR.exists():
        pytest.skip(f"shared MNIST data not found in {MNIST_DIR}")
    code = _quickstart()
    assert "epochs=60" in code
    code = code.replace("epochs=60", "epochs=1")
    code = code.replace('"../shared/data/mnist"', repr(str(MNIST_DIR)))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    assert (tmp_path / "mnist_gnap.keras").stat().st_size > 0
    assert (tmp_path / "mnist_gnap.tflite").stat().st_size > 0
    assert "Effective params" in capsys.readouterr().out
