import json
from importlib import resources

import pytest
from pydantic import ValidationError

from pantau_shared.contract import Platform, PostObserved

EXAMPLE = json.loads(
    resources.files("pantau_shared.contract").joinpath("examples/post.observed.v1.json").read_text()
)["data"]


def test_one_post_is_one_observation_whoever_fetches_it() -> None:
    key = PostObserved.observation_key(Platform.YOUTUBE, "UC1", "v1")
    assert key == PostObserved.observation_key(Platform.YOUTUBE, "UC1", "v1")
    assert key != PostObserved.observation_key(Platform.YOUTUBE, "UC1", "v2")
    assert key != PostObserved.observation_key(Platform.WEB, "UC1", "v1")
    example = PostObserved.observation_key(Platform.YOUTUBE, EXAMPLE["account_id"], EXAMPLE["post_id"])
    assert str(example) == EXAMPLE["observation_id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("posted_at", "2024-02-11T23:40:00"),
        ("evidence_sha256", "not-a-hash"),
        ("media_sha256", ["ABC"]),
        ("post_id", ""),
        ("url", "http://localhost/x"),
    ],
)
def test_bad_fields_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        PostObserved.model_validate(EXAMPLE | {field: value})


def test_the_posts_own_time_is_kept_apart_from_when_it_was_seen() -> None:
    post = PostObserved.model_validate(EXAMPLE)
    assert post.posted_at < post.observed_at
    assert post.key() == EXAMPLE["observation_id"]
