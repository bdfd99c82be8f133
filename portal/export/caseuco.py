"""The custody history as CASE/UCO JSON-LD (caseontology.org), for forensic tools.

Shape, following the CASE 1.x examples (CASE-Examples `forensic_lifecycle`, `file`):

* the case is a `case-investigation:Investigation` whose `uco-core:object` names every node;
* each original is a `uco-observable:File` with a `FileFacet` (name, size) and a
  `ContentDataFacet` (media type, size, a `uco-types:Hash` SHA256 as `xsd:hexBinary`);
* each item has a `case-investigation:ProvenanceRecord` (exhibit number, the file);
* each custody event is a `case-investigation:InvestigativeAction`: its type as name, its
  time as start and end, its actor as performer, the portal as instrument, the file(s) as
  object; `evidence.received` has the provenance record as result. Its log index, leaf and
  canonical event text are kept in `uco-core:externalReference`, so each action can be tied
  back to the signed log;
* actors are `uco-identity:Identity` (witnesses by submission only, unless identity was
  asked for), the portal a `uco-tool:Tool`.

Node IRIs are `kb:<Class>-<UUID>`, UUIDv5 of the log origin and the portal's own id, so the
same event or file has the same IRI in every export of the same portal.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

from portal.custody.actors import Actor
from portal.export.plan import ItemPlan, LoggedEvent, Plan
from portal.export.report import describe

CONTEXT = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "uco-vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


def _time(at: str) -> dict[str, str]:
    return {"@type": "xsd:dateTime", "@value": at}


class _Ids:
    def __init__(self, origin: str) -> None:
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:portal:{origin}")

    def __call__(self, cls: str, key: str) -> str:
        return f"kb:{cls}-{uuid.uuid5(self.ns, f'{cls}/{key}')}"


def _tool(plan: Plan, tool: str) -> dict[str, Any]:
    return {
        "@id": tool,
        "@type": "uco-tool:Tool",
        "uco-core:name": "portal",
        "uco-core:description": f"citizen evidence portal, custody log {plan.origin}",
    }


def _file(iri: _Ids, item: ItemPlan) -> dict[str, Any]:
    hash_node = {
        "@id": iri("Hash", item.evidence_id),
        "@type": "uco-types:Hash",
        "uco-types:hashMethod": {"@type": "uco-vocabulary:HashNameVocab", "@value": "SHA256"},
        "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": item.sha256},
    }
    return {
        "@id": iri("File", item.evidence_id),
        "@type": "uco-observable:File",
        "uco-core:name": item.filename,
        "uco-core:externalReference": [
            {
                "@id": iri("ExternalReference", f"evidence/{item.evidence_id}"),
                "@type": "uco-core:ExternalReference",
                "uco-core:definingContext": "portal evidence id",
                "uco-core:externalIdentifier": item.evidence_id,
            }
        ],
        "uco-core:hasFacet": [
            {
                "@id": iri("FileFacet", item.evidence_id),
                "@type": "uco-observable:FileFacet",
                "uco-observable:fileName": item.filename,
                "uco-observable:filePath": item.path,
                "uco-observable:sizeInBytes": item.size,
            },
            {
                "@id": iri("ContentDataFacet", item.evidence_id),
                "@type": "uco-observable:ContentDataFacet",
                "uco-observable:mimeType": item.media_type,
                "uco-observable:sizeInBytes": item.size,
                "uco-observable:hash": [hash_node],
            },
        ],
    }


def _provenance(iri: _Ids, item: ItemPlan, file: str, exhibit: str) -> dict[str, Any]:
    return {
        "@id": iri("ProvenanceRecord", item.evidence_id),
        "@type": "case-investigation:ProvenanceRecord",
        "case-investigation:exhibitNumber": exhibit,
        "uco-core:description": (
            f"{item.filename}, received {item.received_at}, SHA-256 {item.sha256}"
        ),
        "uco-core:object": [_ref(file)],
    }


def _identities(plan: Plan, iri: _Ids, tool: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Each actor's IRI (the portal's own events name the tool), and one node per person."""
    actors: dict[str, str] = {}
    nodes: list[dict[str, Any]] = []
    witnesses = {i.submission_id: i.witness for i in plan.items}
    for ev in plan.events.values():
        actor = str(ev.obj.get("actor"))
        if actor in actors:
            continue
        who = Actor.parse(actor)
        if who.kind == "system":
            actors[actor] = tool
            continue
        node: dict[str, Any] = {
            "@id": iri("Identity", actor),
            "@type": "uco-identity:Identity",
            "uco-core:name": plan.label(actor),
        }
        contact = witnesses.get(who.id) if who.kind == "witness" else None
        if contact:
            node["uco-core:description"] = "witness contact: " + ", ".join(
                f"{k}: {v}" for k, v in sorted(contact.items())
            )
        actors[actor] = node["@id"]
        nodes.append(node)
    return actors, nodes


def _log_references(plan: Plan, iri: _Ids, ev: LoggedEvent) -> list[dict[str, Any]]:
    """Where the action sits in the signed log, and the event text exactly as hashed."""
    return [
        {
            "@id": iri("ExternalReference", f"log/{ev.index}"),
            "@type": "uco-core:ExternalReference",
            "uco-core:definingContext": f"custody log {plan.origin}, entry (leaf index)",
            "uco-core:externalIdentifier": str(ev.index),
            "uco-core:referenceURL": {
                "@type": "xsd:anyURI",
                "@value": f"urn:portal:{quote(plan.origin, safe='')}:log:{ev.index}",
            },
        },
        {
            "@id": iri("ExternalReference", f"log/{ev.index}/event"),
            "@type": "uco-core:ExternalReference",
            "uco-core:definingContext": "custody log event, canonical JSON as hashed",
            "uco-core:externalIdentifier": ev.text,
        },
    ]


def _action(
    plan: Plan, iri: _Ids, ev: LoggedEvent, *, performer: str, tool: str, objects: list[str]
) -> dict[str, Any]:
    obj = ev.obj
    return {
        "@id": iri("InvestigativeAction", str(ev.index)),
        "@type": "case-investigation:InvestigativeAction",
        "uco-core:name": str(obj.get("type")),
        "uco-core:description": describe(obj),
        "uco-action:startTime": _time(str(obj.get("at"))),
        "uco-action:endTime": _time(str(obj.get("at"))),
        "uco-action:performer": _ref(performer),
        "uco-action:instrument": _ref(tool),
        "uco-action:object": [_ref(o) for o in objects],
        "uco-core:externalReference": _log_references(plan, iri, ev),
    }


def _investigation(plan: Plan, investigation: str, members: list[str]) -> dict[str, Any]:
    return {
        "@id": investigation,
        "@type": "case-investigation:Investigation",
        "uco-core:name": plan.case.title,
        "uco-core:description": (
            f"case {plan.case.id}"
            + (f", reference {plan.case.reference}" if plan.case.reference else "")
            + f"; exported {plan.exported_at} with every custody event proven against "
            f"checkpoint {plan.checkpoint_size} of {plan.origin}"
        ),
        "case-investigation:focus": [plan.case.offense],
        "uco-core:object": [_ref(m) for m in members],
    }


def _items_by_event(plan: Plan) -> dict[int, list[str]]:
    """For each logged event, the items whose custody history holds it."""
    about: dict[int, list[str]] = {}
    for item in plan.items:
        for index in item.events:
            about.setdefault(index, []).append(item.evidence_id)
    return about


def _witness_data_notes(plan: Plan, iri: _Ids, files: dict[str, str]) -> list[dict[str, Any]]:
    """An annotation naming the fields left out, or per item the witness data included."""
    notes: list[dict[str, Any]] = []
    if plan.withheld:
        notes.append(
            {
                "@id": iri("Annotation", "withheld"),
                "@type": "uco-core:Annotation",
                "uco-core:statement": "withheld from this bundle: " + ", ".join(plan.withheld),
                "uco-core:object": [_ref(f) for f in files.values()],
            }
        )
    for item in plan.items:
        if item.witness_data is not None:
            notes.append(
                {
                    "@id": iri("Annotation", f"witness-data/{item.evidence_id}"),
                    "@type": "uco-core:Annotation",
                    "uco-core:statement": "witness data: "
                    + json.dumps(item.witness_data, sort_keys=True, ensure_ascii=False),
                    "uco-core:object": [_ref(files[item.evidence_id])],
                }
            )
    return notes


def graph(plan: Plan) -> dict[str, Any]:
    iri = _Ids(plan.origin)
    tool = iri("Tool", "portal")
    nodes: list[dict[str, Any]] = [_tool(plan, tool)]

    files: dict[str, str] = {}
    records: dict[str, str] = {}
    reference = plan.case.reference or plan.case.id
    for n, item in enumerate(plan.items, 1):
        file = _file(iri, item)
        record = _provenance(iri, item, file["@id"], f"{reference}-{n:03d}")
        files[item.evidence_id], records[item.evidence_id] = file["@id"], record["@id"]
        nodes += [file, record]

    actors, identities = _identities(plan, iri, tool)
    nodes += identities

    investigation = iri("Investigation", plan.case.id)
    about = _items_by_event(plan)
    for ev in sorted(plan.events.values(), key=lambda e: e.index):
        subjects = about.get(ev.index, [])
        action = _action(
            plan,
            iri,
            ev,
            performer=actors[str(ev.obj.get("actor"))],
            tool=tool,
            objects=[files[e] for e in subjects] or [investigation],
        )
        if ev.obj.get("type") == "evidence.received" and subjects:
            action["uco-action:result"] = [_ref(records[e]) for e in subjects]
        nodes.append(action)

    nodes += _witness_data_notes(plan, iri, files)
    nodes.insert(0, _investigation(plan, investigation, [n["@id"] for n in nodes]))
    return {
        "@context": {**CONTEXT, "kb": f"urn:portal:{quote(plan.origin, safe='')}:kb:"},
        "@graph": nodes,
    }


def render(plan: Plan) -> bytes:
    return json.dumps(graph(plan), indent=2, ensure_ascii=False).encode("utf-8")
