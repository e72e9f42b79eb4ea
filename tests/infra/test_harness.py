"""The harness must be able to fail: a check on an Output that is never awaited passes silently,
so these tests prove that a wrong assertion, made the way the policy tests make theirs, fails."""

import pulumi
import pytest

from tests.infra.harness import DROPLET, good_config, run_program


def test_a_wrong_assertion_on_a_registration_fails():
    @pulumi.runtime.test
    async def wrong():
        program = await run_program(good_config(region="fra1"))
        droplet = program.one(DROPLET)
        assert droplet.inputs["region"] == "nyc3", "deliberately wrong"

    with pytest.raises(AssertionError, match="deliberately wrong"):
        wrong()


def test_a_wrong_assertion_on_an_awaited_output_fails():
    @pulumi.runtime.test
    async def wrong():
        program = await run_program(good_config())
        value, _ = await program.output("sshUser")
        assert value == "root", "deliberately wrong"

    with pytest.raises(AssertionError, match="deliberately wrong"):
        wrong()


def test_a_returned_output_check_is_awaited():
    def must_be_root(user: str) -> None:
        assert user == "root", "deliberately wrong"

    @pulumi.runtime.test
    async def wrong():
        program = await run_program(good_config())
        return pulumi.Output.from_input(program.outputs["sshUser"]).apply(must_be_root)

    with pytest.raises(AssertionError, match="deliberately wrong"):
        wrong()


def test_each_run_starts_from_a_fresh_stack():
    seen: list[list[str]] = []

    @pulumi.runtime.test
    async def run(config):
        program = await run_program(config)
        seen.append(sorted(program.outputs))

    run(good_config(database="managed"))
    run(good_config())
    assert "databaseUrl" in seen[0], f"the managed run exports no databaseUrl: {seen[0]}"
    assert "databaseUrl" not in seen[1], "an export from the previous run leaked into the next one"
