"""The version of a loaded policy set: a hash of what was loaded (every document, the facts and
zones), not of file names or times, so that two servers with the same rules say the same
version and a reload that changes nothing keeps it."""

from __future__ import annotations

import hashlib
import json

from .policyset import PolicySet

LENGTH = 16  # hexadecimal digits shown: 64 bits


def policy_set_version(policy_set: PolicySet) -> str:
    documents = sorted(
        json.dumps(doc.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)
        for _, doc in policy_set.documents
    )
    facts = {name: fact.model_dump(mode="json") for name, fact in policy_set.facts.items()}
    zones = {name: zone.model_dump(mode="json") for name, zone in policy_set.zones.items()}
    content = json.dumps(
        {"documents": documents, "facts": facts, "zones": zones},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:LENGTH]
