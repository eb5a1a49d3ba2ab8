"""NATS subject and stream names.

Every subject starts with the deployment's root and the contract's major version, then the agency,
so one agency's traffic is one wildcard (`pantau.v1.bawaslu-3375.>`) that can be mirrored to, or
sourced from, another agency's NATS.

    {root}.v1.{agency}.report.submitted        events (JetStream)
    {root}.rpc.v1.{agency}.report.get          request/reply reads (core NATS)
    {root}.dlq.{stream}.{consumer}             dead letters (JetStream)
"""

from dataclasses import dataclass

CONTRACT_MAJOR = "v1"


@dataclass(frozen=True)
class Subjects:
    root: str = "pantau"

    def event(self, agency_id: str, suffix: str) -> str:
        return f"{self.root}.{CONTRACT_MAJOR}.{agency_id}.{suffix}"

    def event_filter(self, suffix: str, agency_id: str = "*") -> str:
        return f"{self.root}.{CONTRACT_MAJOR}.{agency_id}.{suffix}"

    def rpc(self, agency_id: str, method: str) -> str:
        return f"{self.root}.rpc.{CONTRACT_MAJOR}.{agency_id}.{method}"

    def rpc_filter(self, method: str) -> str:
        return f"{self.root}.rpc.{CONTRACT_MAJOR}.*.{method}"

    def dead_letter(self, stream: str, consumer: str) -> str:
        return f"{self.root}.dlq.{stream}.{consumer}"

    def stream(self, name: str) -> str:
        """Stream names carry the root too, so two deployments (or test runs) share one server."""
        return f"{self.root.upper().replace('-', '_')}_{name}"

    @staticmethod
    def agency_of(subject: str) -> str:
        return subject.split(".")[2] if ".rpc." not in subject else subject.split(".")[3]
