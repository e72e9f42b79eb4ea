"""What the model is asked, and how its answer is read.

The model gets the facts exactly as the report prints them plus the current values of the settings
it may propose changing, and must answer with one JSON object. Anything else it says is kept as
plain text, but no action is taken from it.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

WEEKLY_SYSTEM = """\
You review one week of a solo trader's automated trading assistant for the trader.
Use only the facts given; never invent or recompute numbers. Be brief and concrete.
Answer with one JSON object and nothing else:
{"summary": "<at most 150 words: what happened, what stands out, what to watch>",
 "actions": [{"setting": "<a name from the settings table>", "proposed": "<new value>",
              "reason": "<one sentence naming the fact behind it>"}]}
Propose at most 3 actions, only where a fact supports a change; an empty list is a good answer."""

LOGS_SYSTEM = """\
You summarize a trading service's error and warning logs for its operator.
Use only the groups given; never invent numbers. Name the likely cause per source and what to check first.
Answer with one JSON object and nothing else:
{"summary": "<at most 120 words>",
 "actions": [{"setting": "<a name from the settings table>", "proposed": "<new value>",
              "reason": "<one sentence naming the log group behind it>"}]}
Propose a setting change only when the logs clearly call for one; an empty list is a good answer."""

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def messages(system: str, facts_md: str, current: dict[str, str]) -> list[dict[str, str]]:
    table = "\n".join(f"| {name} | {value or '(empty)'} |" for name, value in current.items())
    user = (
        "## Settings you may propose changing (current values)\n\n"
        f"| setting | value |\n|---|---|\n{table}\n\n{facts_md}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass
class Reply:
    summary: str
    proposals: list[Any] = field(default_factory=list)
    structured: bool = True  # False: the model did not answer with the JSON object asked for


def parse_reply(text: str) -> Reply:
    body = text.strip()
    if fenced := _FENCE.match(body):
        body = fenced[1]
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return Reply(text.strip(), structured=False)
    if not isinstance(data, dict) or not isinstance(data.get("summary"), str):
        return Reply(text.strip(), structured=False)
    proposals = data.get("actions")
    return Reply(data["summary"].strip(), proposals if isinstance(proposals, list) else [])
