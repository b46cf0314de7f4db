"""Which files of a policy directory are read, and as what.

Which files are documents: every file under the directory whose name ends in `.yaml`, except
`zones.yaml` (zones) and `*.cases.yaml` (worked cases, read by `incentives test`). A file that
ends in `.yml` or `.yaml` in other capitals, a symbolic link that leads nowhere and a link that
leads back into its own directory are refused. Links to files and to other directories are
followed. Other files (a README, notes, `__init__.py`) and hidden files and directories (their
name starts with a dot, such as `.git`) are not read.

This module imports nothing of the policy language, so that finding the files (to key the
compiled library's cache, `compile.cache`) costs no models.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import Problem

ZONES_FILE = "zones.yaml"
CASES_SUFFIX = ".cases.yaml"


def bundled_policies() -> Path:
    """The directory of the package `incentives.policies`, where `importlib.resources` finds
    its files, found by its import spec alone: importing `importlib.resources` would cost a
    cold `check` a twentieth of its time."""
    spec = importlib.util.find_spec("incentives.policies")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the bundled policies (incentives.policies) are not installed")
    return Path(spec.submodule_search_locations[0])


def shown_name(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def document_files(root: Path, problems: list[Problem]) -> list[Path]:
    """Stage `files`: the documents under `root`, in order; every file that looks like one but
    cannot be read as one is reported."""
    found = []
    real = root.resolve()
    for path in _walk(root, real, frozenset({real}), root, problems):
        name = path.name
        lowered = name.lower()
        if not lowered.endswith((".yaml", ".yml")) or name == ZONES_FILE:
            continue
        if name.endswith(CASES_SUFFIX):
            continue
        if not name.endswith(".yaml") or lowered.endswith((".cases.yml", ".cases.yaml")):
            right = name[: name.lower().rindex(".")] + ".yaml"
            if lowered.endswith((".cases.yml", ".cases.yaml")):
                right = name[: lowered.rindex(".cases.")] + CASES_SUFFIX
            message = f"not read: policy files end in '.yaml' exactly; rename it to {right}"
            problems.append(Problem(message, file=shown_name(path, root)))
            continue
        found.append(path)
    return sorted(found)


def _walk(
    directory: Path, real: Path, ancestors: frozenset[Path], root: Path, problems: list[Problem]
) -> Iterator[Path]:
    """Every file below `directory` (hidden ones left out), following links; broken links and
    links back into a directory being walked are reported. `real` is the directory's real
    path, `ancestors` those of the directories walked down to it, itself included."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(f"cannot read directory: {exc.strerror or exc}",
                                file=shown_name(directory, root)))  # fmt: skip
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if not entry.is_symlink():  # no system call: scandir knows
            if entry.is_dir(follow_symlinks=False):
                inside = real / entry.name
                yield from _walk(path, inside, ancestors | {inside}, root, problems)
            else:
                yield path
            continue
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, on older Pythons
            problems.append(Problem(_broken_link(path, exc), file=shown_name(path, root)))
            continue
        if not target.is_dir():
            yield path
        elif target in ancestors:
            problems.append(Problem("symbolic link loop: it leads back to a directory that "
                                    "contains it", file=shown_name(path, root)))  # fmt: skip
        else:
            yield from _walk(path, target, ancestors | {target}, root, problems)


def _broken_link(path: Path, exc: BaseException) -> str:
    if (isinstance(exc, OSError) and exc.errno == 40) or isinstance(exc, RuntimeError):
        return "symbolic link loop: the link leads back to itself"
    try:
        target = os.readlink(path)
    except OSError:
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    return f"broken symbolic link: it points to {target}, which does not exist"
