"""Two API traps: a curl-labelled audio part (application/octet-stream), and delete-all behind an ids-only deletion."""
import io
import wave

import requests


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(16000)
        sink.writeframes(b"\0\0" * 1600)
    return buffer.getvalue()


def test_a_multipart_audio_file_labelled_octet_stream_is_accepted_by_its_content(web_server, business):
    # What `curl -F file=@x.wav` sends.
    answer = requests.post(f"{web_server}/api/sessions", headers=business.headers, timeout=30,
                           files={"file": ("x.wav", _wav_bytes(), "application/octet-stream")})
    assert answer.status_code == 202, answer.text
    session = requests.get(f"{web_server}/api/sessions/{answer.json()['session_id']}", headers=business.headers,
                           timeout=30).json()
    assert session["content_type"] == "audio/wav"
    not_audio = requests.post(f"{web_server}/api/sessions", headers=business.headers, timeout=30,
                              files={"file": ("x.wav", b"just some text, not audio", "application/octet-stream")})
    assert not_audio.status_code == 415


def test_delete_all_while_an_ids_only_deletion_is_active_answers_409_never_drops_it(web_server, business,
                                                                                  clean_queues):
    delete = f"{web_server}/api/receipts/delete"
    ids_only = requests.post(delete, json={"ids": [1, 2]}, headers=business.headers, timeout=30)
    assert ids_only.status_code == 202, ids_only.text  # no maintenance worker: it stays active
    everything = requests.post(delete, json={"all": True}, headers=business.headers, timeout=30)
    assert everything.status_code == 409, everything.text
    assert ids_only.json()["job_id"] in everything.json()["description"]
    # Asking for the same kind again still returns the active job.
    again = requests.post(delete, json={"ids": [3]}, headers=business.headers, timeout=30)
    assert again.status_code == 202 and again.json() == {**ids_only.json(), "created": False}
