"""POST /twilio/recording-status: Twilio's signature, validation, and one download per RecordingSid."""
from __future__ import annotations

import threading

from falcon import testing

from tests.recordings.helpers import jobs_of_type, recording_row
from tests.support.fake_twilio import callback_path, new_sid, post_callback


def test_signed_completed_callback_records_the_call_and_enqueues_one_download(client, business, fake_twilio,
                                                                              clean_queues):
    sid = fake_twilio.add(business.id)
    form = fake_twilio.callback_form(sid)
    response = post_callback(client, fake_twilio, business.id, form)
    assert response.status_code == 204, response.text
    row = recording_row(sid)
    assert row.business_id == business.id and row.call_sid == form["CallSid"] and row.status == "pending"
    jobs = jobs_of_type(business.id, "recording_download")
    assert [job.id for job in jobs] == [row.download_job_id]
    assert jobs[0].queue == "recordings" and jobs[0].args == {"recording_sid": sid, "call_sid": form["CallSid"]}
    call = client.simulate_get(f"/api/calls/{form['CallSid']}", headers=business.headers).json
    assert call["recording"]["status"] == "pending" and call["transcript"]["status"] == "none"


def test_duplicate_deliveries_enqueue_one_download_even_concurrently(app, business, fake_twilio, clean_queues):
    sid = fake_twilio.add(business.id)
    form = fake_twilio.callback_form(sid)
    statuses = []

    def deliver():
        statuses.append(post_callback(testing.TestClient(app), fake_twilio, business.id, form).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert post_callback(testing.TestClient(app), fake_twilio, business.id, form).status_code == 204
    assert statuses == [204] * 6
    assert len(jobs_of_type(business.id, "recording_download")) == 1


def test_bad_or_missing_signature_is_403_and_stores_nothing(client, business, fake_twilio, clean_queues):
    sid = fake_twilio.add(business.id)
    form = fake_twilio.callback_form(sid)
    own_url = f"http://falconframework.org{callback_path(business.id)}"
    wrong_token = fake_twilio.sign(own_url, form, token="not-the-token")
    other_url = fake_twilio.sign(f"http://falconframework.org{callback_path(999999)}", form)
    for signature in (None, "", "garbage", wrong_token, other_url):
        response = post_callback(client, fake_twilio, business.id, form, signature=signature)
        assert response.status_code == 403, (signature, response.text)
        assert response.json["title"] == "Forbidden"
    tampered = dict(form, RecordingUrl=fake_twilio.recording_url(new_sid("RE")))
    signed_original = fake_twilio.sign(own_url, form)
    assert post_callback(client, fake_twilio, business.id, tampered, signature=signed_original).status_code == 403
    repeated = client.simulate_post("/twilio/recording-status", query_string=callback_path(business.id).split("?")[1],
                                    body="CallSid=a&CallSid=b", headers={
                                        "Content-Type": "application/x-www-form-urlencoded",
                                        "X-Twilio-Signature": "garbage"})
    assert repeated.status_code == 403
    assert recording_row(sid) is None
    assert jobs_of_type(business.id, "recording_download") == []


def test_invalid_fields_are_422_and_unknown_business_404(client, business, fake_twilio, clean_queues):
    sid = fake_twilio.add(business.id)
    for bad in ({"RecordingSid": "RE123"}, {"RecordingUrl": "ftp://x"}, {"RecordingStatus": "done"},
                {"CallSid": ""}, {"RecordingDuration": "abc"}):
        form = {**fake_twilio.callback_form(sid), **bad}
        response = post_callback(client, fake_twilio, business.id, form)
        assert response.status_code == 422, (bad, response.text)
        assert response.json["title"] == "Invalid request"
    missing = fake_twilio.callback_form(sid)
    del missing["RecordingUrl"]
    assert post_callback(client, fake_twilio, business.id, missing).status_code == 422
    assert post_callback(client, fake_twilio, 987654, fake_twilio.callback_form(sid)).status_code == 404
    assert recording_row(sid) is None


def test_absent_recording_is_recorded_without_a_download(client, business, fake_twilio, clean_queues):
    sid = fake_twilio.add(business.id)
    form = fake_twilio.callback_form(sid, status="absent")
    del form["RecordingUrl"]  # Twilio may send none for an absent recording
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204
    assert recording_row(sid).status == "absent"
    assert jobs_of_type(business.id, "recording_download") == []
    response = client.simulate_get(f"/api/calls/{form['CallSid']}/recording", headers=business.headers)
    assert response.status_code == 404 and "no recording" in response.json["description"]


def test_another_business_cannot_see_the_call(client, business, make_business, fake_twilio, clean_queues):
    sid = fake_twilio.add(business.id)
    form = fake_twilio.callback_form(sid)
    assert post_callback(client, fake_twilio, business.id, form).status_code == 204
    other = make_business("Other")
    for path in (f"/api/calls/{form['CallSid']}", f"/api/calls/{form['CallSid']}/recording"):
        assert client.simulate_get(path, headers=other.headers).status_code == 404
    assert client.simulate_get(f"/api/calls/{form['CallSid']}").status_code == 401
