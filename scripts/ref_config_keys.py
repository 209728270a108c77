#!/usr/bin/env python3
"""Derive the compact key tree of the reference's config schema.

Usage:
  OPENCLAW_PEER_HOME=/root/.cache/openclaw-peer ../shared/peer/openclaw-peer cli config schema > /tmp/ref.json
  python3 scripts/ref_config_keys.py /tmp/ref.json > schemas/reference-config-keys.json

The tree maps each property name to its subtree. A subtree is `{}` for a leaf (or an object
with no known keys); the key `"*"` means "any key" (additionalProperties/records) and holds the
subtree of those values; the key `"[]"` holds the subtree of array items. Unions (anyOf/oneOf/
allOf) are merged. The gateway embeds this file to tell keys the reference knows (accepted with a
"not supported yet" warning) from keys nobody knows (errors with a did-you-mean).
"""
import json
import sys


def resolve(node, defs_stack):
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return node
    name = ref[len("#/$defs/"):]
    for defs in reversed(defs_stack):
        if name in defs:
            return defs[name]
    return {}


def merge(a, b):
    for k, v in b.items():
        if k in a:
            merge(a[k], v)
        else:
            a[k] = v
    return a


def tree(node, defs_stack, depth=0, seen=()):
    if not isinstance(node, dict) or depth > 40:
        return {}
    if "$defs" in node and isinstance(node["$defs"], dict):
        defs_stack = defs_stack + [node["$defs"]]
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return {}
        return tree(resolve(node, defs_stack), defs_stack, depth + 1, seen + (ref,))
    out = {}
    for k, v in (node.get("properties") or {}).items():
        out[k] = merge(out.get(k, {}), tree(v, defs_stack, depth + 1, seen))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) or extra is True or node.get("patternProperties"):
        sub = tree(extra, defs_stack, depth + 1, seen) if isinstance(extra, dict) else {}
        for v in (node.get("patternProperties") or {}).values():
            merge(sub, tree(v, defs_stack, depth + 1, seen))
        out["*"] = merge(out.get("*", {}), sub)
    items = node.get("items")
    if isinstance(items, dict):
        sub = tree(items, defs_stack, depth + 1, seen)
        if sub:
            out["[]"] = merge(out.get("[]", {}), sub)
    for key in ("anyOf", "oneOf", "allOf"):
        for alt in node.get(key) or []:
            merge(out, tree(alt, defs_stack, depth + 1, seen))
    return out


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    json.dump(tree(schema, []), sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
