"""SIGHUP reloads the policy directory of a running service without dropping requests; a set that
does not load leaves the old one answering and says why. The decision log has one line per
decision."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import ROOT, Server, needed, start

EXAMPLE = (ROOT / "examples" / "jinzhong-hightech.yaml").read_bytes()
AS_OF = "2026-11-24"


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def version(server: Server) -> str:
    with server.client() as http:
        return str(http.get("/readyz").json()["policy_set_version"])


class Load:
    """Clients posting profiles until stopped; every answer is kept (a request that got no
    answer as status 0). `fresh`: a new connection for each request."""

    def __init__(self, server: Server, clients: int = 2, fresh: bool = False) -> None:
        self.answers: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._headers = {"content-type": "application/yaml"} | (
            {"connection": "close"} if fresh else {}
        )
        self._threads = [threading.Thread(target=self._run, args=(server,)) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _run(self, server: Server) -> None:
        with server.client() as http:
            while not self._stop.is_set():
                try:
                    response = http.post(
                        f"/v1/check?as_of={AS_OF}", content=EXAMPLE, headers=self._headers
                    )
                except Exception as exc:
                    self.answers.append((0, repr(exc)))
                    continue
                self.answers.append((response.status_code, response.headers["policy-set-version"]))

    def stop(self) -> list[tuple[int, str]]:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self.answers


def break_and_mend(server: Server, policy_dir: Path, failed: Callable[[], bool]) -> tuple[str, str]:
    """A broken document, SIGHUP (the old set stays), then a real change, SIGHUP (the new set
    answers). Returns the versions before and after."""
    before = version(server)
    broken = policy_dir / "national" / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    server.hangup()
    wait_for(failed, "the failed reload to be logged")
    assert version(server) == before
    broken.unlink()
    document = policy_dir / "national" / "cit-law.yaml"
    text = document.read_text(encoding="utf-8")
    document.write_text(text.replace("title_en: ", "title_en: (amended) ", 1), encoding="utf-8")
    server.hangup()
    seen: list[str] = []
    wait_for(lambda: seen.append(version(server)) or seen[-1] != before, "the new set to answer")
    return before, seen[-1]


@pytest.fixture(scope="module")
def server_with_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Path, Path]]:
    """One server for this module's tests, on a copy of the bundled policies, logging decisions."""
    needed("fastapi")
    tmp_path = tmp_path_factory.mktemp("reload")
    policy_dir = copy_policies(tmp_path)
    decisions = tmp_path / "decisions.jsonl"
    server = start(
        tmp_path / "server.log", "--policies", str(policy_dir), "--decision-log", str(decisions)
    )
    yield server, decisions, policy_dir
    server.stop()


def new_lines(decisions: Path, seen: int) -> list[dict[str, Any]]:
    lines = decisions.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[seen:]]


def test_sighup_reloads_without_dropping_a_request(
    server_with_log: tuple[Server, Path, Path],
) -> None:
    server, decisions, policy_dir = server_with_log
    seen = len(decisions.read_text(encoding="utf-8").splitlines()) if decisions.exists() else 0
    load = Load(server)
    before, after = break_and_mend(server, policy_dir, lambda: "reload failed" in server.output())
    answers = load.stop()
    with server.client() as http:  # the new set answers, and says so
        response = http.post(
            f"/v1/check?as_of={AS_OF}",
            content=EXAMPLE,
            headers={"content-type": "application/yaml"},
        )
        assert response.headers["policy-set-version"] == after
    assert answers and all(status == 200 for status, _ in answers)
    assert {v for _, v in answers} <= {before, after}
    log = server.output()
    assert "broken.yaml" in log and "still serving " + before in log
    assert f"policy set reloaded: {after} (was {before})" in log

    lines = new_lines(decisions, seen)
    assert len(lines) == len(answers) + 1
    last = lines[-1]
    assert last["policy_set_version"] == after and last["as_of"] == AS_OF
    assert last["path"] == "/v1/check" and last["credit_code"] == "91140171MA0K000214"
    assert last["request_id"] == response.headers["x-request-id"]
    assert last["total"] == response.json()["total"]
    assert last["statuses"] == {r["policy_id"]: r["status"] for r in response.json()["results"]}
    assert {"decision_id", "time"} <= set(last) and "profile" not in last


def test_decisions_name_a_profile_without_credit_code_by_its_hash(
    server_with_log: tuple[Server, Path, Path],
) -> None:
    server, decisions, _ = server_with_log
    seen = len(decisions.read_text(encoding="utf-8").splitlines()) if decisions.exists() else 0
    with server.client() as http:
        http.post("/v1/policies/national.hnte.certification/explain", json={"employees": 3})
        http.post("/v1/check", json={"employees": -3})  # refused: no decision
        http.post("/v1/screen", content=b'{"zone": "taiyuan"}\n{"credit_code": "91140171MA0K000214"}\n',
                  headers={"content-type": "application/x-ndjson"})  # fmt: skip
    lines = new_lines(decisions, seen)
    assert [x["path"] for x in lines] == [
        "/v1/policies/national.hnte.certification/explain",
        "/v1/screen",
        "/v1/screen",
    ]
    assert len(lines[0]["profile_sha256"]) == 64 and "total" not in lines[0]
    assert list(lines[0]["statuses"]) == ["national.hnte.certification"]
    assert lines[1]["row"] == 1 and "row_sha256" in lines[1]
    assert lines[2]["credit_code"] == "91140171MA0K000214" and len(lines[2]["statuses"]) > 1


def test_a_worker_that_cannot_load_the_set_exits_before_answering(tmp_path: Path) -> None:
    """What lets a SIGHUP with several workers keep the old ones: uvicorn replaces a worker only
    once its successor is ready, and a successor whose set does not load exits at once."""
    needed("fastapi")
    policy_dir = copy_policies(tmp_path)
    (policy_dir / "national" / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    from incentives.service.settings import ENVIRONMENT, Settings

    env = {**os.environ, ENVIRONMENT: Settings(policies=policy_dir).to_environment()}
    code = "from incentives.service.app import app_from_environment; app_from_environment()"
    worker = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert worker.returncode == 3  # uvicorn's STARTUP_FAILURE
    assert "worker not started" in worker.stderr and "broken.yaml:2" in worker.stderr
    assert "Traceback" not in worker.stderr


@pytest.mark.skipif(
    not os.environ.get("INCENTIVES_SLOW_TESTS"),
    reason="slow (four worker starts); INCENTIVES_SLOW_TESTS=1 runs it",
)
def test_sighup_with_workers_replaces_them_one_by_one(tmp_path: Path) -> None:
    """Each new worker loads the set before the old one stops, and the old one finishes what it
    has accepted. (A client's idle keep-alive connection to an old worker is closed when it
    stops, as on any graceful restart: these clients connect for each request.)"""
    needed("fastapi")
    policy_dir = copy_policies(tmp_path)
    server = start(tmp_path / "server.log", "--policies", str(policy_dir), "--workers", "2")
    try:
        load = Load(server, clients=1, fresh=True)
        _, after = break_and_mend(
            server, policy_dir, lambda: "aborting the restart" in server.output()
        )
        wait_for(
            lambda: all(version(server) == after for _ in range(6)),
            "every worker to answer with the new set",
        )
        answers = load.stop()
        assert answers and all(status == 200 for status, _ in answers)
        assert "broken.yaml" in server.output()
    finally:
        server.stop()
