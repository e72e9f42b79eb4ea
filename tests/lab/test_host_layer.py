"""site.yml (host layer and stack) on a real Debian 13 VM, then the guest observed from outside, as
an attacker would.

Every SSH attempt and scan here goes over the probe network (a tap NIC in a namespace made by the
test), not through the guest's loopback or QEMU's port forwards.
"""

from __future__ import annotations

import re
import shlex
import time

import pytest

from app.ops.lab.vm import LabVM
from tests.lab.conftest import guest
from tests.lab.playbook import PlaybookRun
from tests.lab.probe import ProbeNet

# The first test also sets up the session's VM: image, boot and two site.yml runs (15-25 min
# under TCG; over an hour when the 2-core machine is shared), far beyond the suite's per-test timeout.
pytestmark = [pytest.mark.lab, pytest.mark.timeout(9000)]


def _probe_ssh(vm: LabVM, probe: ProbeNet, user: str, *options: str) -> tuple[int, str]:
    cmd = ["ssh", *vm.ssh_options(), *options, f"{user}@{probe.guest}", "true"]
    result = probe.run(*cmd, timeout=60)
    return result.returncode, result.stderr


def test_site_converges_on_a_fresh_vm(first_converge: PlaybookRun):
    first = first_converge
    assert first.recap("failed") == 0 and first.recap("unreachable") == 0, first.failing_step()


def test_second_run_changes_nothing(converged: tuple[PlaybookRun, PlaybookRun]):
    _, second = converged
    assert second.returncode == 0, f"second site.yml run failed at:\n{second.failing_step()}"
    changed = [line for line in second.output.splitlines() if line.startswith("changed:")]
    assert second.recap("changed") == 0, f"second run is not idempotent; changed tasks:\n{changed}"


def test_deploy_key_login_works_from_outside(converged, lab_vm: LabVM, probe_net: ProbeNet):
    code, err = _probe_ssh(lab_vm, probe_net, "deploy")
    assert code == 0, f"the deploy user's key login over the probe network failed: {err}"


def test_root_login_is_refused_even_with_a_valid_key(converged, lab_vm: LabVM, probe_net: ProbeNet):
    # The image authorises the lab key for root (as a droplet does): only sshd can refuse it.
    code, err = _probe_ssh(lab_vm, probe_net, "root")
    assert code == 255 and "Permission denied" in err, f"root login was not refused: exit {code}, {err}"


def test_password_and_keyboard_interactive_logins_are_not_offered(
    converged, lab_vm: LabVM, probe_net: ProbeNet
):
    code, err = _probe_ssh(
        lab_vm,
        probe_net,
        "deploy",
        "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
    )  # fmt: skip
    assert code == 255, f"a login without a key succeeded: exit {code}"
    assert "Permission denied (publickey)" in err, f"sshd offers more than publickey: {err}"


def test_ssh_audit_finds_no_failures(converged, probe_net: ProbeNet, lab_results: dict):
    result = probe_net.run("ssh-audit", "--no-colors", probe_net.guest, timeout=120)
    output = result.stdout
    failures = [line for line in output.splitlines() if "[fail]" in line]
    warnings = [line for line in output.splitlines() if "[warn]" in line]
    lab_results["ssh_audit"] = {"fail": len(failures), "warn": len(warnings)}
    assert "(gen) banner" in output, f"ssh-audit did not reach sshd: {result.stderr or output}"
    assert not failures, "ssh-audit failures:\n" + "\n".join(failures)


def test_only_ssh_and_web_ports_answer_while_a_container_publishes_a_port(
    published_container: int, lab_vm: LabVM, probe_net: ProbeNet, lab_results: dict
):
    served = guest(lab_vm, f"curl -fsS http://127.0.0.1:{published_container}/")
    assert b"published-probe" in served.stdout, (
        f"the published container does not answer inside the guest, the scan would prove nothing: "
        f"{served.stderr.decode()}"
    )
    scan = probe_net.run(
        "nmap", "-Pn", "-n", "-sS", "-T4", "--max-retries", "1", "-p", "1-10000", "-oG", "-",
        probe_net.guest, timeout=600,
    )  # fmt: skip
    assert scan.returncode == 0, f"nmap failed: {scan.stderr}"
    open_ports = sorted({int(p) for p in re.findall(r"(\d+)/open/tcp", scan.stdout)})
    lab_results["open_ports_from_outside"] = open_ports
    assert 22 in open_ports, (
        f"SSH does not answer from the admin network, the scan is suspect:\n{scan.stdout}"
    )
    # 80/443 are Caddy's, the stack's only published ports; 8080 must stay behind UFW.
    assert open_ports == [22, 80, 443], f"expected exactly 22/80/443 to answer from outside: {open_ports}"


def test_ufw_fail2ban_and_unattended_upgrades_are_active(converged, lab_vm: LabVM):
    import testinfra

    host = testinfra.get_host(
        f"ssh://deploy@127.0.0.1:{lab_vm.ssh_port}",
        ssh_identity_file=str(lab_vm.image.key),
        ssh_extra_args=" ".join(lab_vm.ssh_options()[2:]),
        sudo=True,
    )
    ufw = host.run("ufw status verbose").stdout
    assert "Status: active" in ufw and "deny (incoming)" in ufw, f"UFW is not enforcing:\n{ufw}"
    assert host.service("fail2ban").is_running, "fail2ban is not running"
    jail = host.run("fail2ban-client status sshd")
    assert jail.rc == 0 and "Journal matches" in jail.stdout, f"sshd jail not on the journal: {jail.stdout}"
    assert host.service("apt-daily-upgrade.timer").is_running, "apt-daily-upgrade.timer is not active"
    apt = host.run("apt-config dump APT::Periodic::Unattended-Upgrade").stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in apt, f"unattended upgrades are off: {apt}"


LYNIS_OUT = "/var/log/lab-lynis.out"  # in the guest


SECOND_CPU = "/sys/devices/system/cpu/cpu1/online"


@pytest.mark.lynis  # not in the default run (scripts/test -m lynis): see scripts/test
def test_lynis_reports_a_hardening_index(converged, lab_vm: LabVM, lab_results: dict):
    # Runs last and alone (conftest orders it): 9-35 min under TCG, nearly all of it forks (lynis
    # is a shell script, and logs each line through `date`). The guest's second vCPU goes offline
    # meanwhile: on one vCPU no fork waits on the other for a TLB flush, and forks measured 25%
    # faster (lynis audits configuration, which the CPU count is not part of).
    # A transient unit rather than one long SSH command, so the wait below can watch the VM.
    command = (
        f"echo 0 > {SECOND_CPU}; start=$(date +%s); "
        f"lynis audit system --quick --no-colors > {LYNIS_OUT}.partial 2>&1; "
        f'echo "exit $? after $(($(date +%s) - start)) s" >> {LYNIS_OUT}.partial; '
        f"echo 1 > {SECOND_CPU}; mv {LYNIS_OUT}.partial {LYNIS_OUT}"
    )
    started = guest(lab_vm, f"sudo systemd-run --unit lab-lynis --collect sh -c {shlex.quote(command)}")
    assert started.returncode == 0, f"starting lynis in the guest failed: {started.stderr.decode()}"
    deadline = time.monotonic() + 2400
    while guest(lab_vm, f"test -f {LYNIS_OUT}").returncode != 0:
        gone = lab_vm.gone()
        if gone:
            pytest.fail(f"lynis cannot finish: {gone}")
        if time.monotonic() > deadline:
            status = guest(lab_vm, "systemctl status lab-lynis").stdout.decode()
            pytest.fail(f"lynis did not finish within 40 min: {status}")
        time.sleep(15)
    output = guest(lab_vm, f"cat {LYNIS_OUT}").stdout.decode(errors="replace")
    index = re.search(r"Hardening index : (\d+)", output)
    ended = re.search(r"exit (\d+) after (\d+) s\s*$", output)
    assert ended and ended.group(1) == "0" and index, (
        f"lynis did not report a hardening index:\n{output[-3000:]}"
    )
    lab_results["lynis_hardening_index"] = int(index.group(1))
    lab_results["lynis_s"] = int(ended.group(2))
