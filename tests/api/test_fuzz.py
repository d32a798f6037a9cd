"""Schemathesis fuzzes every documented operation of a real server: no response is ever ≥ 500.

The server runs with small limits, so that every generated request that is accepted trains in
milliseconds; the limits are settings, and a refusal of anything larger is what is under test.
Both valid (positive) and invalid (negative) cases are generated from the app's own OpenAPI schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from benchmarks.serve import start_server, stop_server

SMALL_LIMITS = [
    *("--limits.max-features", "8"),
    *("--limits.max-hidden", "4"),
    *("--limits.max-instances", "3"),
    *("--limits.max-grid-size", "3"),
    *("--limits.max-restarts", "2"),
    *("--limits.max-steps", "20"),
    *("--limits.max-batch-size", "64"),
    *("--limits.max-latents", "8"),
]
CASES_PER_OPERATION_AND_MODE = 150
MIN_CASES = 2000
NO_INPUT = {"GET /api/health", "GET /api/limits", "GET /api/presets"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, base = start_server(tmp_path_factory.mktemp("fuzz_cache"), *SMALL_LIMITS)
    try:
        yield base
    finally:
        stop_server(proc)


def fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    session: requests.Session,
    calls: Counter[str],
    statuses: Counter[int],
) -> None:
    """Send one operation's generated cases; fail on the first response ≥ 500."""

    @settings(
        max_examples=CASES_PER_OPERATION_AND_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: schemathesis.Case) -> None:
        response = case.call(session=session, timeout=60)
        calls[operation.label] += 1
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])

    send()


@pytest.mark.timeout(900)
def test_no_generated_request_gets_a_server_error(fuzz_server: str, tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /api/models", "GET /api/models/{model_id}", "POST /api/phase-diagrams"} <= labels
    calls: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    session = requests.Session()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, session, calls, statuses)
            except Unsatisfiable:  # no input at all: nothing can be made invalid
                assert mode == GenerationMode.NEGATIVE and operation.label in NO_INPUT
    seen = f"cases per operation {dict(calls)}; statuses {dict(statuses)}"
    assert sum(calls.values()) >= MIN_CASES, seen
    assert statuses[200] >= 20 and statuses[422] > 0, seen  # both sides of validation reached
    assert not [status for status in statuses if status >= 500], seen
