"""Run Dramatiq's own tests against our broker: `python -m tests.upstream.run_upstream [pytest args]`.

Downloads the sdist of the installed Dramatiq from PyPI into var/upstream/ (its tests are not in the wheel),
unpacks the test files tests/upstream/selection.txt names (the middleware tests, which the sdist lacks, come
from tests/upstream/vendored/, copied unchanged from Dramatiq's repository) next to our fixtures (harness_conftest.py, harness_common.py), and runs them with pytest on a private
valkey, minus the documented exclusions. Exit status: pytest's.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

from tests.support.private_servers import PrivateValkey

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
WORK = REPO_ROOT / "var" / "upstream"
VENDORED = HERE / "vendored"


def read_selection() -> tuple[list[str], list[str]]:
    files, excluded = [], []
    for line in (HERE / "selection.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("exclude "):
            excluded.append(line.split(None, 1)[1])
        elif line:
            files.append(line)
    return files, excluded


def sdist(dramatiq_version: str) -> Path:
    path = WORK / f"dramatiq-{dramatiq_version}.tar.gz"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                        f"dramatiq=={dramatiq_version}", "-d", str(WORK)], check=True)
    return path


def unpack(archive: Path, files: list[str], into: Path) -> None:
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for name in files:
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / "__init__.py").touch()
            vendored = VENDORED / name
            if vendored.exists():
                target.write_bytes(vendored.read_bytes())
                continue
            member = tar.getmember(f"{archive.name[:-len('.tar.gz')]}/tests/{name}")
            target.write_bytes(tar.extractfile(member).read())
    (into / "__init__.py").write_text("")
    shutil.copy(HERE / "harness_conftest.py", into / "conftest.py")
    shutil.copy(HERE / "harness_common.py", into / "common.py")


def main(argv: list[str]) -> int:
    dramatiq_version = version("dramatiq")
    WORK.mkdir(parents=True, exist_ok=True)
    files, excluded = read_selection()
    run_dir = WORK / f"run-{dramatiq_version}"
    package = run_dir / "upstream_tests"  # not `tests`: that name is ours
    unpack(sdist(dramatiq_version), files, package)
    (run_dir / "pytest.ini").write_text("[pytest]\ntimeout = 120\n")
    data_dir = Path(tempfile.mkdtemp(prefix="prosaas-upstream-"))
    with PrivateValkey() as valkey:
        env = {**os.environ, "REDIS_URL": valkey.url, "PROSAAS_REDIS_NAMESPACE": "dramatiq",
               "PROSAAS_UPSTREAM_PRIVATE_REDIS": "1", "DATABASE_URL": f"sqlite:///{data_dir / 'upstream.db'}",
               "PROSAAS_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
        command = [sys.executable, "-m", "pytest", "-c", str(run_dir / "pytest.ini"), "--rootdir", str(run_dir),
                   "-p", "no:cacheprovider", *[f"upstream_tests/{name}" for name in files],
                   *[f"--deselect=upstream_tests/{test_id}" for test_id in excluded], *argv]
        subprocess.run([sys.executable, "-m", "prosaas", "migrate"], cwd=REPO_ROOT, env=env, check=True)
        outcome = subprocess.run(command, cwd=run_dir, env=env)
    shutil.rmtree(data_dir, ignore_errors=True)
    return outcome.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
