"""A Twilio-signed recording callback cannot be moved to another business or carry foreign fields."""
from __future__ import annotations

from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.recordings.helpers import jobs_of_type, recording_row
from tests.support.fake_twilio import callback_path, post_callback
from tests.support.processes import json_of, run_cli

BASE = "http://falconframework.org"   # what falcon's TestClient requests look like to the app


def signed_post(client, test_env, path: str, form: dict, signed_url: str, signed_form: dict | None = None):
    """POST `form` to `path` with the signature Twilio's own validator gives `signed_url` and `signed_form`."""
    validator = RequestValidator(test_env["TWILIO_AUTH_TOKEN"])
    signature = validator.compute_signature(signed_url, form if signed_form is None else signed_form)
    route, _, query = path.partition("?")
    return client.simulate_post(route, query_string=query, body=urlencode(form), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


def test_the_separator_free_replay_onto_another_business_is_refused(client, make_business, fake_twilio,
                                                                    test_env, clean_queues):
    victim, thief = make_business("Victim"), make_business("Thief")
    sid = fake_twilio.add(victim.id)
    form = fake_twilio.callback_form(sid)
    # Twilio signed `...?business_id=<thief><digit>`; the same bytes are `...?business_id=<thief>` plus a
    # form field named <digit> with an empty value (the validator concatenates with no separators).
    original = f"{BASE}/twilio/recording-status?business_id={thief.id}7"
    answer = signed_post(client, test_env, f"/twilio/recording-status?business_id={thief.id}", {**form, "7": ""},
                         original, signed_form=form)
    assert answer.status_code in (403, 422), answer.text
    # The same shift with a non-empty field: "7" takes "AccountSid" + its value, so AccountSid goes missing.
    shifted = {k: v for k, v in form.items() if k != "AccountSid"} | {"7": "AccountSid" + form["AccountSid"]}
    answer = signed_post(client, test_env, f"/twilio/recording-status?business_id={thief.id}", shifted,
                         original, signed_form=form)
    assert answer.status_code in (403, 422), answer.text
    # And on a tokened URL: the token loses its last character to the extra field.
    tokened = callback_path(thief.id)
    answer = signed_post(client, test_env, tokened[:-1], {**form, tokened[-1]: ""}, BASE + tokened,
                         signed_form=form)
    assert answer.status_code in (403, 422), answer.text
    assert recording_row(sid) is None and jobs_of_type(thief.id, "recording_download") == []


def test_a_signed_callback_with_another_business_token_or_a_foreign_field_is_refused(
        client, make_business, fake_twilio, test_env, clean_queues):
    victim, thief = make_business("Victim"), make_business("Thief")
    sid = fake_twilio.add(victim.id)
    form = fake_twilio.callback_form(sid)
    wrong_token = callback_path(victim.id).replace(f"business_id={victim.id}", f"business_id={thief.id}")
    answer = signed_post(client, test_env, wrong_token, form, BASE + wrong_token)
    assert answer.status_code == 403 and "token" in answer.json["description"]
    untokened = f"/twilio/recording-status?business_id={thief.id}"
    assert signed_post(client, test_env, untokened, form, BASE + untokened).status_code == 403
    own = callback_path(thief.id)
    answer = signed_post(client, test_env, own, {**form, "3": ""}, BASE + own)
    assert answer.status_code == 422 and answer.json["description"].startswith("3:"), answer.text
    other_account = {**form, "AccountSid": "AC" + "f" * 32}
    assert signed_post(client, test_env, own, other_account, BASE + own).status_code == 403
    assert recording_row(sid) is None and jobs_of_type(thief.id, "recording_download") == []
    # Every parameter Twilio sends is accepted, and the right business gets the call.
    full = {**form, "RecordingTrack": "both", "ConferenceSid": "CF" + "0" * 32}
    assert post_callback(client, fake_twilio, victim.id, full).status_code == 204
    assert recording_row(sid).business_id == victim.id


def test_business_create_prints_the_recording_status_callback_url(client, fake_twilio, clean_queues):
    created = json_of(run_cli("business", "create", "Callback shop", "--json",
                              env={"PUBLIC_BASE_URL": "https://calls.example.com/"}))
    url = created["recording_status_callback"]
    business_id = created["business_id"]
    assert url.startswith(f"https://calls.example.com/twilio/recording-status?business_id={business_id}&token=")
    sid = fake_twilio.add(business_id)
    form = fake_twilio.callback_form(sid)
    path = url.removeprefix("https://calls.example.com")
    assert post_callback(client, fake_twilio, business_id, form, path=path).status_code == 204
    assert recording_row(sid).business_id == business_id
    assert json_of(run_cli("business", "create", "No base", "--json", env={"PUBLIC_BASE_URL": ""})
                   )["recording_status_callback"] is None
