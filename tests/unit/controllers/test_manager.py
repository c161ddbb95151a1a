"""The controller manager's table of controllers and its argument handling."""

from __future__ import annotations

import argparse

import pytest

from kcore.client import Client, Config
from kcore.controllers import cli
from kcore.controllers.manager import ControllerManager


async def test_unknown_controllers_are_refused() -> None:
    client = Client(Config(server="https://127.0.0.1:1"))
    with pytest.raises(ValueError, match="unknown controllers: nope"):
        ControllerManager(client, controllers=["deployment", "nope"])
    m = ControllerManager(client, controllers=["deployment"], workers={"deployment": 9})
    assert m.names == ["deployment"] and m.workers["deployment"] == 9
    await client.close()


def test_cli_parses_controllers_workers_and_leader_election() -> None:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "controller-manager",
            "--kubeconfig",
            "/k",
            "--controllers",
            "deployment,replicaset",
            "--workers",
            "deployment=7",
            "--leader-elect",
            "false",
        ]
    )
    assert cli._controllers(args.controllers) == ["deployment", "replicaset"]
    assert cli._workers(args.workers) == {"deployment": 7}
    assert args.leader_elect is False
    assert cli._controllers("*") is None
    with pytest.raises(SystemExit):
        cli._workers(["deployment"])
    with pytest.raises(SystemExit):
        cli._controllers("bogus")
