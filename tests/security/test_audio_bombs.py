"""#12.4 Audio bombs: a few bytes of FLAC that decode to hours. The header is checked at upload (422) and
in the worker; decoding and voice detection run a second at a time and stop past SESSION_MAX_SECONDS, failing
as BadAudio without a retry; a long but legal file is processed (its worker's peak RSS is printed, not asserted).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from actors.sessions import process_audio_session
from prosaas.middleware.slots import BusinessSlots
from tests.recordings.test_sessions import session_of, upload
from tests.security.audio_files import flac_bomb
from tests.support.processes import start_worker, wait_for

WORKER_MAX_SECONDS = 3600  # the worker's SESSION_MAX_SECONDS; the in-process web keeps the 4 h default


@pytest.fixture(scope="module")
def session_worker(tmp_path_factory, broker):
    role = start_worker(tmp_path_factory.mktemp("audio-worker"), queues="default", modules=(), greenlets=4,
                        name="audio-worker", env={"SESSION_MAX_SECONDS": str(WORKER_MAX_SECONDS)})
    yield role
    role.stop(timeout=30)


def peak_rss_kib(pid: int) -> int:
    """VmHWM of a process and all its descendants (the largest one: each worker process decodes alone)."""
    peak = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        pending.extend(int(child) for child in children)
    return peak


def _upload_flac(client, business, data: bytes):
    return upload(client, business, data, content_type="audio/flac")


def test_a_header_claiming_more_than_the_limit_is_refused_at_upload(client, business):
    bomb = flac_bomb(holds_seconds=60, claims_seconds=5 * 3600)
    assert len(bomb) < 2_000
    answer = _upload_flac(client, business, bomb)
    assert answer.status_code == 422, answer.text
    assert "SESSION_MAX_SECONDS" in answer.json["description"]
    jobs = client.simulate_get("/api/jobs", params={"type": "audio_session"}, headers=business.headers).json
    assert jobs["jobs"] == []


def test_audio_longer_than_the_limit_fails_as_bad_audio_without_a_retry(client, business, session_worker):
    # Header says 60 s (passes the upload), frames hold 2 h: caught while decoding, past WORKER_MAX_SECONDS.
    liar = _upload_flac(client, business, flac_bomb(holds_seconds=2 * 3600, claims_seconds=60))
    # Header says 2 h: under the web's 4 h but over this worker's 1 h, refused before decoding.
    honest = _upload_flac(client, business, flac_bomb(holds_seconds=2 * 3600, claims_seconds=2 * 3600))
    for accepted in (liar, honest):
        assert accepted.status_code == 202, accepted.text
        view = session_of(client, business, accepted.json["session_id"], "failed", "completed", timeout=120)
        assert view["status"] == "failed" and view["attempts"] == 1, view
        assert "BadAudio" in view["error"] and view["result"] is None
        # The session row turns failed inside the actor; the job row's outcome is written just after it.
        job = wait_for(lambda: (lambda j: j if j["status"] not in ("queued", "running") else None)(
            client.simulate_get(f"/api/jobs/{accepted.json['job_id']}", headers=business.headers).json),
            30, what="the job's outcome")
        assert job["status"] == "failed" and job["attempts"] == 1, job
    assert "SESSION_RETRY" not in session_worker.log()


def test_a_long_legal_file_is_processed_in_bounded_memory(client, business, session_worker):
    seconds = 50 * 60
    accepted = _upload_flac(client, business, flac_bomb(holds_seconds=seconds, claims_seconds=seconds))
    assert accepted.status_code == 202, accepted.text
    view = session_of(client, business, accepted.json["session_id"], "completed", "failed", timeout=180)
    assert view["status"] == "completed", view["error"]
    assert seconds - 70 < view["result"]["duration_s"] <= seconds
    print(f"\nAUDIO_MEMORY decoded_s={view['result']['duration_s']:.0f} "
          f"worker_peak_rss_kib={peak_rss_kib(session_worker.pid)}")


def test_the_session_actor_has_a_per_business_limit(broker, runtime):
    assert BusinessSlots.limit_for(broker, process_audio_session.actor_name) == runtime.settings.sessions_per_business
