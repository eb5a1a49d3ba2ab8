"""Which agency runs on which Pantau instance, and the names their NATS links agree on.

Each instance is one NATS server with its own JetStream domain (the instance's name). Events for
an agency on another instance go to this instance's outbound stream; each partner's inbound
stream *sources* them across the leaf link (`external` API and deliver prefixes), so they wait
durably on the sender's side while the link is down and arrive once, in order, when it is back.
The exchange server's accounts export and import exactly these names (see
`deploy/local/src/pantau_devstack/federation.py`), so the server config and the streams cannot
disagree.

The table is data (TOML, `PANTAU_TRIAGE_FEDERATION_FILE`):

    [[instance]]
    name = "komdigi"                 # also the JetStream domain and the exchange account
    agencies = ["komdigi"]

    [[escalation]]                   # up the Bawaslu hierarchy, by rule
    categories = ["netralitas_asn"]
    min_priority = 60
    to = "bawaslu-{province}"
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)

from .contract import CONTRACT_MAJOR, Subjects

INSTANCE_NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
DAY = 86_400.0


@dataclass(frozen=True)
class Instance:
    name: str
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class EscalationRule:
    categories: frozenset[str]
    to: str
    min_priority: int = 0


@dataclass(frozen=True)
class FederationTable:
    instances: tuple[Instance, ...]
    escalations: tuple[EscalationRule, ...] = ()

    @classmethod
    def load(cls, path: Path) -> "FederationTable":
        return cls.parse(path.read_text("utf-8"))

    @classmethod
    def parse(cls, text: str) -> "FederationTable":
        data = tomllib.loads(text)
        instances = tuple(
            Instance(name=i["name"], agencies=tuple(i["agencies"])) for i in data.get("instance", [])
        )
        for instance in instances:
            if not INSTANCE_NAME.match(instance.name):
                raise ValueError(f"instance name {instance.name!r}: lowercase letters and digits only")
        hosted = [a for i in instances for a in i.agencies]
        if len(hosted) != len(set(hosted)):
            raise ValueError("an agency is listed on two instances")
        escalations = tuple(
            EscalationRule(
                categories=frozenset(rule["categories"]),
                to=rule["to"],
                min_priority=rule.get("min_priority", 0),
            )
            for rule in data.get("escalation", [])
        )
        return cls(instances=instances, escalations=escalations)

    def instance(self, name: str) -> Instance:
        for instance in self.instances:
            if instance.name == name:
                return instance
        raise KeyError(f"instance {name!r} is not in the federation table")

    def instance_of(self, agency_id: str) -> Instance | None:
        return next((i for i in self.instances if agency_id in i.agencies), None)

    def partners_of(self, name: str) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if i.name != name)


@dataclass(frozen=True)
class FederationLink:
    """One instance's side of the federation: its streams and what it sources from whom."""

    subjects: Subjects
    table: FederationTable
    me: Instance

    @property
    def inbound_stream(self) -> str:
        return self.subjects.stream("FEDERATION_IN")

    def outbound_stream(self, instance: str | None = None) -> str:
        return outbound_stream(self.subjects, instance or self.me.name)

    def is_remote(self, agency_id: str) -> bool:
        host = self.table.instance_of(agency_id)
        return host is not None and host.name != self.me.name

    def stream_configs(self) -> list[StreamConfig]:
        root = self.subjects.root
        # One source per partner and pair of agencies: from a partner's stream only what names one
        # of its own agencies as the sender comes in (the consumer checks the event says the same).
        sources = [
            StreamSource(
                name=self.outbound_stream(partner.name),
                filter_subject=f"{root}.fed.{CONTRACT_MAJOR}.{agency}.{sender}.>",
                external=ExternalStream(
                    api=f"$JS.{partner.name}.API", deliver=deliver_prefix(root, self.me.name, partner.name)
                ),
            )
            for partner in self.table.partners_of(self.me.name)
            for agency in self.me.agencies
            for sender in partner.agencies
        ]
        return [
            StreamConfig(
                name=self.outbound_stream(),
                subjects=[f"{root}.fed.{CONTRACT_MAJOR}.>"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                discard=DiscardPolicy.OLD,
                max_age=30 * DAY,
                duplicate_window=120.0,
            ),
            StreamConfig(
                name=self.inbound_stream,
                sources=sources,
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=90 * DAY,
                duplicate_window=120.0,
            ),
        ]


def outbound_stream(subjects: Subjects, instance: str) -> str:
    return subjects.stream(f"FEDERATION_OUT_{instance.upper()}")


def deliver_prefix(root: str, receiver: str, sender: str) -> str:
    """Where the sender's server delivers what the receiver sources: naming the sender, so the
    exchange lets each instance publish only deliveries that are its own."""
    return f"{root}.fedx.{receiver}.{sender}"
