"""Is a new revision of a schema still readable by the consumers of the old one?

A revision under the same id (same name and major version) may add optional properties and
change annotations (title, description, examples). Anything that would let new data break an old
reader, or old data break a new reader, is refused: a changed type, a property removed, a change
to `required`, a changed enum, a changed bound or format, `additionalProperties` tightened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "default", "$id", "$schema"})
_STRUCTURAL = frozenset({"properties", "required", "items", "additionalProperties"})


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any], path: str = "") -> list[str]:
    """Reasons `new` cannot replace `old` under the same schema id; empty when it can."""
    problems: list[str] = []
    where = path or "/"
    for key in sorted((set(old) | set(new)) - _ANNOTATIONS - _STRUCTURAL):
        if old.get(key) != new.get(key):
            problems.append(f"{where}: '{key}' changed from {old.get(key)!r} to {new.get(key)!r}")
    if sorted(old.get("required", [])) != sorted(new.get("required", [])):
        problems.append(f"{where}: 'required' changed from {old.get('required', [])} to {new.get('required', [])}")
    old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
    if old_extra != new_extra:
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            problems += incompatibilities(old_extra, new_extra, f"{path}/additionalProperties")
        else:
            problems.append(f"{where}: 'additionalProperties' changed")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_sub in old_props.items():
        if name not in new_props:
            problems.append(f"{path}/{name}: property removed")
        else:
            problems += incompatibilities(old_sub, new_props[name], f"{path}/{name}")
    added = set(new_props) - set(old_props)
    if added and old_extra is False:
        problems.append(f"{where}: properties {sorted(added)} added where additionalProperties is false")
    if "items" in old or "items" in new:
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
            problems += incompatibilities(old_items, new_items, f"{path}/items")
        elif old_items != new_items:
            problems.append(f"{where}: 'items' changed")
    return problems
