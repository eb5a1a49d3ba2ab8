"""Several Pantau instances on one machine, each with its own NATS server and JetStream domain,
linked as leaf nodes of an exchange server whose accounts let each see only what is meant for it.

The server configs are rendered from the committed templates (`nats/hub.conf`,
`nats/agency.conf`) and the federation table, so `pantau-dev up --federation`, the tests and a
real deployment's ops team (`pantau-dev federation-config`) use the same configuration.
"""

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

import nkeys  # type: ignore[import-untyped]

from pantau_shared.contract import CONTRACT_MAJOR, Subjects
from pantau_shared.federation import FederationTable, Instance, deliver_prefix, outbound_stream

from .servers import NatsServer, free_port

# The demo's three instances (Pekalongan, Komdigi, Jawa Tengah), also the tests'.
DEMO_TABLE = Path(str(resources.files("pantau_devstack").joinpath("data/federation.toml")))


@dataclass(frozen=True)
class LinkKey:
    """The NKey an instance's leaf link signs with: the seed stays with the instance, the
    exchange knows only the public key."""

    seed: str
    public: str

    @classmethod
    def generate(cls) -> "LinkKey":
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        return cls(seed=seed.decode(), public=nkeys.from_seed(bytearray(seed)).public_key.decode())


def load_keys(path: Path, names: list[str]) -> dict[str, LinkKey]:
    """The link keys kept in `path` (created 0600), generating those missing."""
    known = {k: LinkKey(**v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}
    for name in names:
        known.setdefault(name, LinkKey.generate())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: vars(v) for k, v in known.items()}, indent=2))
    path.chmod(0o600)
    return known


def _template(name: str) -> Template:
    return Template(resources.files("pantau_devstack").joinpath(f"nats/{name}").read_text("utf-8"))


def _quoted(subjects: list[str]) -> str:
    return ", ".join(json.dumps(s) for s in subjects)


def _account(table: FederationTable, me: Instance, key: LinkKey, subjects: Subjects) -> str:
    root = subjects.root
    mine = outbound_stream(subjects, me.name)
    exports, imports = [], []
    publish = ["_R_.>", f"{root}.fedx.*.{me.name}.>"]
    subscribe = [
        f"$JS.{me.name}.API.CONSUMER.>",
        f"{root}.fedx.{me.name}.*.>",
        f"$JS.FC.{mine}.>",
        "$JSC.R.>",
        "_INBOX.>",
    ]
    for partner in table.partners_of(me.name):
        theirs = outbound_stream(subjects, partner.name)
        to = partner.name.upper()
        for agency in partner.agencies:
            create = f"$JS.{me.name}.API.CONSUMER.CREATE.{mine}.*.{root}.fed.{CONTRACT_MAJOR}.{agency}.>"
            exports.append(f"{{ service: {json.dumps(create)}, accounts: [{to}] }}")
        deliveries = deliver_prefix(root, partner.name, me.name) + ".>"
        exports.append(f"{{ stream: {json.dumps(deliveries)}, accounts: [{to}] }}")
        exports.append(f"{{ service: {json.dumps(f'$JS.FC.{mine}.>')}, accounts: [{to}] }}")
        for agency in me.agencies:
            create = (
                f"$JS.{partner.name}.API.CONSUMER.CREATE.{theirs}.*.{root}.fed.{CONTRACT_MAJOR}.{agency}.>"
            )
            imports.append(f"{{ service: {{ account: {to}, subject: {json.dumps(create)} }} }}")
            publish.append(create)
        delivered = deliver_prefix(root, me.name, partner.name) + ".>"
        imports.append(f"{{ stream: {{ account: {to}, subject: {json.dumps(delivered)} }} }}")
        imports.append(f"{{ service: {{ account: {to}, subject: {json.dumps(f'$JS.FC.{theirs}.>')} }} }}")
        publish.append(f"$JS.FC.{theirs}.>")
    permissions = (
        f"permissions: {{ publish: {{ allow: [{_quoted(publish)}] }}, "
        f"subscribe: {{ allow: [{_quoted(subscribe)}] }} }}"
    )
    lines = ",\n      ".join
    return (
        f"  {me.name.upper()}: {{\n"
        f'    users: [ {{ nkey: "{key.public}", {permissions} }} ]\n'
        f"    exports: [\n      {lines(exports)}\n    ]\n"
        f"    imports: [\n      {lines(imports)}\n    ]\n"
        "  }"
    )


def hub_config(
    table: FederationTable,
    keys: dict[str, LinkKey],
    subjects: Subjects,
    *,
    port: int,
    leaf_port: int,
    host: str = "127.0.0.1",
    name: str = "exchange",
) -> str:
    accounts = "\n".join(_account(table, i, keys[i.name], subjects) for i in table.instances)
    return _template("hub.conf").substitute(
        name=name, host=host, port=port, leaf_port=leaf_port, accounts=accounts
    )


def agency_config(
    instance: str, key: LinkKey, *, port: int, store_dir: Path, exchange_url: str, host: str = "127.0.0.1"
) -> str:
    return _template("agency.conf").substitute(
        name=instance, host=host, port=port, store_dir=store_dir, exchange_url=exchange_url, seed=key.seed
    )


@dataclass
class FederatedNats:
    """The exchange and one NATS server per instance, configured from the table, under `home`."""

    home: Path
    table: FederationTable
    subjects: Subjects = field(default_factory=Subjects)
    ports: dict[str, int] = field(default_factory=dict)
    servers: dict[str, NatsServer] = field(default_factory=dict)

    def start(self, preferred: dict[str, int] | None = None) -> None:
        preferred = preferred or {}
        keys = load_keys(self.home / "link-keys.json", [i.name for i in self.table.instances])
        for name in ("exchange", "exchange-leaf", *(i.name for i in self.table.instances)):
            self.ports.setdefault(name, free_port(preferred.get(name)))
        hub = self.home / "exchange.conf"
        hub.write_text(
            hub_config(
                self.table,
                keys,
                self.subjects,
                port=self.ports["exchange"],
                leaf_port=self.ports["exchange-leaf"],
            )
        )
        self.servers["exchange"] = NatsServer(self.home / "exchange", self.ports["exchange"], config_file=hub)
        for instance in self.table.instances:
            config = self.home / f"{instance.name}.conf"
            config.write_text(
                agency_config(
                    instance.name,
                    keys[instance.name],
                    port=self.ports[instance.name],
                    store_dir=self.home / instance.name / "jetstream",
                    exchange_url=f"nats-leaf://127.0.0.1:{self.ports['exchange-leaf']}",
                )
            )
            config.chmod(0o600)
            self.servers[instance.name] = NatsServer(
                self.home / instance.name, self.ports[instance.name], config_file=config
            )
        try:
            for server in self.servers.values():
                server.start()
        except BaseException:
            self.stop()
            raise

    def url(self, name: str) -> str:
        return self.servers[name].url

    def seed(self, name: str) -> str:
        return load_keys(self.home / "link-keys.json", [name])[name].seed

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()
