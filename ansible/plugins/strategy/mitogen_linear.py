"""Ansible's linear strategy run over Mitogen, found through the installed `mitogen` package.

Mitogen keeps one Python interpreter per host alive for the whole play and sends it modules it
has already imported, instead of starting Python and unpacking each module's zip for every task.
On a TCG lab guest that start-up is most of a task's cost: an idempotent site.yml run spends it
a few hundred times. ansible.cfg points `strategy_plugins` here so that the virtualenv's package
is used wherever it is installed, without a path that depends on the Python version.
"""

from ansible_mitogen.loaders import strategy_loader
from ansible_mitogen.strategy import StrategyMixin


class StrategyModule(StrategyMixin, strategy_loader.get("linear", class_only=True)):
    """The linear strategy with Mitogen's connection and module-execution wrappers installed."""
