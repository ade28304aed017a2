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
    assert "epochs=40" in code
    code = code.replace("epochs=40", "epochs=1")
    code = code.replace('"../shared/data/mnist"', repr(str(MNIST_DIR)))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    assert (tmp_path / "mnist_gnap.keras").stat().st_size > 0
    assert (tmp_path / "mnist_gnap.tflite").stat().st_size > 0
    assert "Effective params" in capsys.readouterr().out


def test_main_job_runs_the_defaults_and_ci_runs_the_test_command():
    text = README.read_text()
    start, end = text.index("## Set up and run"), text.index("## Quickstart")
    section = text[start:end]
    commands = re.findall(r"```bash\n(?:#[^\n]*\n)?(.*?)\n```", section, re.S)
    main_job, tests = commands[:2]
    # The main job sets nothing but the data: the defaults are the policy.
    assert main_job.endswith(
        "python -m keras_gnap train --dataset ../shared/data/mnist"
    )
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.split("&& ")[-1] in ci
