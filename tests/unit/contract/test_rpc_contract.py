"""The request/reply half of the contract: methods, golden examples, typed errors, documents."""

import json
from importlib import resources
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel

from pantau_shared.bus import Answer, Conflict, NotFound, RpcError
from pantau_shared.contract.documents import render
from pantau_shared.contract.rpc import (
    CASE_GET,
    CASE_TRANSITION,
    ERROR_STATUS,
    METHODS,
    CaseQuery,
    Command,
    ErrorCode,
    MethodKind,
    RpcFailure,
    TransitionCase,
)

EXAMPLES = resources.files("pantau_shared.contract").joinpath("examples", "rpc")


def example(name: str) -> Any:
    return json.loads(EXAMPLES.joinpath(f"{name}.json").read_text("utf-8"))


def test_every_method_has_a_golden_example_and_nothing_else_does() -> None:
    names = {p.name.removesuffix(".json") for p in EXAMPLES.iterdir() if p.name.endswith(".json")}
    assert names == {*METHODS, "failures"}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_golden_request_and_response_are_fixed_points_of_their_models(name: str) -> None:
    method, golden = METHODS[name], example(name)
    request = method.request.model_validate(golden["request"])
    response = method.response.model_validate(golden["response"])
    assert json.loads(request.model_dump_json()) == golden["request"]
    assert json.loads(response.model_dump_json()) == golden["response"]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_commands_carry_an_id_and_a_principal_and_queries_do_not(name: str) -> None:
    method = METHODS[name]
    assert issubclass(method.request, Command) == (method.kind is MethodKind.COMMAND)
    if method.kind is MethodKind.QUERY:
        assert "command_id" not in method.request.model_fields


def test_the_reads_that_write_are_commands() -> None:
    for name in ("case.transition", "case.reclassify", "claims.import", "notification.ack"):
        assert METHODS[name].kind is MethodKind.COMMAND


def test_golden_failures_cover_every_code_a_service_sends() -> None:
    codes = {RpcFailure.model_validate(f).code for f in example("failures")}
    assert codes == set(ErrorCode) - {ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT}
    assert len(set(ERROR_STATUS.values())) == len(ErrorCode)


def test_asyncapi_has_a_request_reply_operation_per_method() -> None:
    document = json.loads(render()["asyncapi.json"])
    operations = document["operations"]
    assert set(operations) == {name.replace(".", "_") for name in METHODS}
    transition = operations["case_transition"]
    assert {"name": "command"} in transition["tags"]
    channel = document["channels"][transition["channel"]["$ref"].rsplit("/", 1)[1]]
    assert channel["address"] == "{root}.rpc.v1.{agency}.case.transition"
    assert transition["reply"]["messages"]
    assert "schemas/rpc/case.transition.request.json" in render()


async def _reply(answer: Answer[Any, Any], body: dict[str, Any] | bytes) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return json.loads(await answer.reply("bawaslu-3375", data))


async def test_an_answer_validates_the_request_and_types_the_reply() -> None:
    seen: list[tuple[str, BaseModel]] = []

    async def get_case(agency_id: str, request: CaseQuery) -> Any:
        seen.append((agency_id, request))
        raise NotFound(f"kasus {request.case_id} tidak ditemukan")

    answer = Answer(CASE_GET, get_case)
    case_id = "018d9a1e-3c40-7b3b-8c1e-5f2a6b7c8d91"
    assert await _reply(answer, {"case_id": case_id}) == {
        "error": {"code": "not_found", "detail": f"kasus {case_id} tidak ditemukan", "allowed": []}
    }
    assert seen == [("bawaslu-3375", CaseQuery(case_id=UUID(case_id)))]
    invalid = await _reply(answer, {"case_id": "not-a-uuid"})
    assert invalid["error"]["code"] == "invalid" and "case_id" in invalid["error"]["detail"]
    assert (await _reply(answer, b"{not json"))["error"]["code"] == "invalid"
    assert (await _reply(answer, {"case_id": case_id, "extra": 1}))["error"]["code"] == "invalid"
    assert len(seen) == 1


async def test_a_conflict_carries_the_allowed_states_and_a_crash_says_nothing_inside() -> None:
    async def refuse(agency_id: str, command: TransitionCase) -> Any:
        raise Conflict("tidak diizinkan", allowed=["verifying"])

    async def crash(agency_id: str, command: TransitionCase) -> Any:
        raise RuntimeError("password=hunter2")

    body = example("case.transition")["request"]
    refused = await _reply(Answer(CASE_TRANSITION, refuse), body)
    assert refused["error"] == {"code": "conflict", "detail": "tidak diizinkan", "allowed": ["verifying"]}
    error = RpcError.of(RpcFailure.model_validate(refused["error"]))
    assert (error.status, error.allowed) == (409, ["verifying"])
    assert (await _reply(Answer(CASE_TRANSITION, crash), body)) == {
        "error": {"code": "internal", "detail": "", "allowed": []}
    }
