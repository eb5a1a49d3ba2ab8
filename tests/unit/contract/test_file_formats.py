"""Documents that leave Pantau as files: a golden example per format, a fixed point of its model."""

import json
from importlib import resources

import pytest

from pantau_shared.contract import FILE_FORMATS, BundleManifest

EXAMPLES = resources.files("pantau_shared.contract").joinpath("examples", "files")


def example(name: str) -> dict:
    return json.loads(EXAMPLES.joinpath(f"{name}.json").read_text("utf-8"))


def test_every_file_format_has_a_golden_example_and_nothing_else_does() -> None:
    assert {p.name.removesuffix(".json") for p in EXAMPLES.iterdir() if p.name.endswith(".json")} == set(
        FILE_FORMATS
    )


@pytest.mark.parametrize("name", sorted(FILE_FORMATS))
def test_golden_example_is_a_fixed_point_of_its_model(name: str) -> None:
    golden = example(name)
    document = FILE_FORMATS[name].model_validate(golden)
    assert json.loads(document.model_dump_json()) == golden
    assert golden["format"] == name


def test_readers_of_a_manifest_ignore_fields_added_later_in_the_same_format() -> None:
    golden = example("pantau.evidence-bundle.v1")
    manifest = BundleManifest.model_validate({**golden, "jurisdiction": "33.75"})
    assert manifest.case_number == golden["case_number"]


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "/abs", "evidence/../x", ".hidden", "a//b", "evidence/.", "a\\b", ""]
)
def test_paths_inside_a_bundle_stay_inside_it(path: str) -> None:
    golden = example("pantau.evidence-bundle.v1")
    golden["files"][0]["path"] = path
    with pytest.raises(ValueError):
        BundleManifest.model_validate(golden)
