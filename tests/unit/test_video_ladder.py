"""The HLS ladder is data: rung heights and their bitrates are settings, checked at start-up."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from media import engines
from processing.video import Variant


def test_the_default_ladder_reaches_1080p_with_its_bitrates() -> None:
    assert engines.video_spec().ladder == (
        Variant(480, 1_500_000, 96_000),
        Variant(720, 3_000_000, 128_000),
        Variant(1080, 6_000_000, 160_000),
    )


def test_bitrates_per_rung_come_from_the_setting(settings) -> None:
    settings.VIDEO_LADDER = [1080, 360]
    settings.VIDEO_BITRATES = {"360": "700/64", "1080": "5000/192"}
    assert engines.video_spec().ladder == (Variant(360, 700_000, 64_000), Variant(1080, 5_000_000, 192_000))


def test_a_rung_without_bitrates_or_a_malformed_entry_fails_the_start_up_check(settings) -> None:
    assert not [e for e in run_checks() if e.id == "media.E004"]
    settings.VIDEO_LADDER = [480, 900]
    assert [e.msg for e in run_checks() if e.id == "media.E004"] == [
        "VIDEO_LADDER has 900, which VIDEO_BITRATES does not price"
    ]
    settings.VIDEO_BITRATES = {"480": "1500"}
    (error,) = [e for e in run_checks() if e.id == "media.E004"]
    assert error.msg.startswith("VIDEO_BITRATES: expected height=video/audio in kbit/s")


def test_the_lead_segments_come_from_the_setting_and_a_misfit_names_it(settings) -> None:
    assert engines.video_spec().first_segment_seconds == 2
    settings.VIDEO_FIRST_SEGMENT_SECONDS = 3
    assert engines.video_spec().lead_segments == 2
    assert not [e for e in run_checks() if e.id == "media.E005"]
    settings.VIDEO_FIRST_SEGMENT_SECONDS = 4
    with pytest.raises(ImproperlyConfigured, match="^VIDEO_FIRST_SEGMENT_SECONDS: "):
        engines.video_spec()
    (error,) = [e for e in run_checks() if e.id == "media.E005"]  # at start-up, not in the worker
    assert error.msg.startswith("VIDEO_FIRST_SEGMENT_SECONDS: first_segment_seconds (4) must divide")
