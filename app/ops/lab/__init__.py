"""The lab: a local Debian 13 VM under QEMU that stands in for the droplet.

`image` builds (and caches) the guest disk, kernel and login key; `vm` boots one overlay of it per
VM on its own loopback ports; `inventory` writes the Ansible inventory for a running VM; `cli` is
`trader lab up|down|ssh|status`.
"""
