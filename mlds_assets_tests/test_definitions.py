"""The code location's graph as a committed snapshot, so an unintended change shows in review.

After an intended change to assets, checks, jobs, sensors, automation or column schemas, regenerate it:

    MLDS_UPDATE_SNAPSHOT=1 python -m pytest mlds_assets_tests/test_definitions.py

and commit mlds_assets_tests/snapshots/definitions.json with the change.
"""

from __future__ import annotations

from mlds_assets.definitions import build_definitions
from mlds_assets_tests.definitions_snapshot import SNAPSHOT, UPDATE_ENV, compare


def test_definitions_match_the_committed_snapshot(settings):
    diff = compare(build_definitions(settings))
    assert diff is None, (
        f"the definitions differ from {SNAPSHOT.name}; if intended, rerun with {UPDATE_ENV}=1 and commit it:\n{diff}"
    )
