"""Decisions are values of a closed set (str-valued, so rows, JSON and logs keep the plain words)."""
import json
from enum import Enum

import pytest

from actors.recordings_service import Playback, PlaybackState
from db.job_store import Claim, ClaimAction
from db.models.core import JobControl, JobStatus
from prosaas.scheduler import TickOutcome


@pytest.mark.parametrize("kind", [JobStatus, JobControl, ClaimAction, PlaybackState, TickOutcome])
def test_each_decision_is_an_enum_of_plain_words(kind):
    assert issubclass(kind, Enum) and all(member == member.value for member in kind)
    assert json.dumps([member for member in kind]) == json.dumps([member.value for member in kind])


def test_job_status_groups_cover_every_status_once():
    assert sorted(JobStatus.ACTIVE + JobStatus.FINISHED) == sorted(JobStatus) == sorted(JobStatus.ALL)


def test_a_claim_reads_back_as_its_enum_and_refuses_a_misspelt_action():
    assert Claim("defer", "running_elsewhere").action is ClaimAction.DEFER
    with pytest.raises(ValueError):
        Claim("rn")


def test_a_playback_state_is_one_of_the_five():
    with pytest.raises(ValueError):
        PlaybackState("loading")
    assert Playback.__dataclass_fields__["state"].type in (PlaybackState, "PlaybackState")
