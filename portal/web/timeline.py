"""The custody timeline as staff read it: repeated looks grouped into one row, each event's
type and details in words, and the raw event kept beside it (the page shows it on request)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from portal.web.i18n import Translator

# Looks that each page view adds several of: consecutive ones by one person become one row.
REPEATED = frozenset(
    {
        "evidence.listed",
        "evidence.viewed",
        "evidence.timeline_viewed",
        "evidence.thumbnail_viewed",
        "evidence.proxy_viewed",
    }
)


@dataclass
class Row:
    type: str
    actor: str
    first: dict[str, Any]
    last: dict[str, Any]
    raw: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.raw)


def group(events: list[dict[str, Any]]) -> list[Row]:
    """Consecutive looks by the same person at the item collapse into one row."""
    rows: list[Row] = []
    looks: dict[str, Row] = {}  # within one run of looks, the row of each look type
    for e in events:
        raw = json.dumps(e, ensure_ascii=False, sort_keys=True, indent=1)
        if e["type"] in REPEATED:
            row = looks.get(e["type"])
            if row is not None and row.actor == e["actor"]:
                row.last = e
                row.raw.append(raw)
                continue
            row = Row(e["type"], e["actor"], e, e, [raw])
            looks[e["type"]] = row
            rows.append(row)
            continue
        looks = {}
        rows.append(Row(e["type"], e["actor"], e, e, [raw]))
    return rows


def who(t: Translator, actor: str, names: dict[str, str]) -> str:
    kind, _, rest = actor.partition(":")
    if kind == "staff":
        uid, _, role = rest.partition(":")
        return f"{names.get(uid, uid)} ({t('role.' + role)})"
    if kind == "witness":
        return t("tl.witness")
    return t("tl.cli") if kind == "cli" else t("tl.system")


def words(t: Translator, e: dict[str, Any], case_titles: dict[str, str]) -> list[str]:
    """The details a reader needs, in words; everything else stays in the raw event."""
    d: dict[str, Any] = e.get("details") or {}
    out: list[str] = []
    if isinstance(d.get("to"), str) and e["type"] == "evidence.triaged":
        out.append(t("tl.d.to", v=t("state." + d["to"])))
    if isinstance(d.get("case"), str):
        out.append(t("tl.d.case", v=case_titles.get(d["case"], d["case"])))
    new = d.get("new")
    if isinstance(new, dict) and "category" in new:
        out.append(t("tl.d.category", v=t("category." + str(new["category"]))))
        until = new.get("retain_until")
        if until:
            out.append(t("tl.d.until", v=t.when(str(until))))
    if isinstance(d.get("scopes"), list):
        out.append(t("tl.d.scopes", v=", ".join(t("scope." + str(s)) for s in d["scopes"])))
    if isinstance(d.get("size"), int):
        out.append(t("tl.d.size", v=t.size(d["size"])))
    # A retention change's reason is the system's own note (English): its words are above.
    if isinstance(d.get("reason"), str) and d["reason"] and e["type"] != "retention.changed":
        out.append(t("tl.d.reason", v=d["reason"]))
    if isinstance(d.get("consent_withdrawn_reason"), str):
        out.append(t("tl.d.withdrawn", v=d["consent_withdrawn_reason"]))
    return out


def rows_for_page(
    t: Translator,
    events: list[dict[str, Any]],
    names: dict[str, str],
    case_titles: dict[str, str],
) -> list[dict[str, Any]]:
    out = []
    for row in group(events):
        out.append(
            {
                "index": row.first["seq"],
                "type": row.type,
                "name": t("event." + row.type),
                "at": row.first["at"],
                "when": t.when(row.first["at"]),
                "until": t.when(row.last["at"]) if row.count > 1 else "",
                "count": row.count,
                "who": who(t, row.actor, names),
                "words": words(t, row.last, case_titles),
                "raw": row.raw,
            }
        )
    return out
