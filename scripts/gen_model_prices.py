#!/usr/bin/env python3
"""Builds data/model_prices.json, llmux's price and context-window table, from LiteLLM's
model_prices_and_context_window.json (MIT licensed, see data/NOTICE.md).

Usage: scripts/gen_model_prices.py <model_prices_and_context_window.json> [output]
       (output defaults to data/model_prices.json next to this script's repository root)

Only what routing (cost-based routing, price sorting, context-window checks) and spend tracking
need is kept, under LiteLLM's field names so a LiteLLM-style file reads the same way:

  litellm_provider, mode, input_cost_per_token, output_cost_per_token,
  cache_read_input_token_cost, cache_creation_input_token_cost,
  cache_creation_input_token_cost_above_1hr, output_cost_per_reasoning_token,
  input_cost_per_image, output_cost_per_image, input_cost_per_request,
  max_input_tokens, max_output_tokens, tiers

Normalisations (each one keeps LiteLLM's meaning):
  * max_output_tokens falls back to the legacy max_tokens (LiteLLM's get_max_tokens does the same).
  * cache_read_input_token_cost falls back to input_cost_per_token_cache_hit (DeepSeek-style).
  * input_cost_per_request falls back to input_cost_per_query (rerank / search: one query a call).
  * Prompt-size pricing becomes "tiers": [{"above": N, rates...}], ascending. A tier applies when
    the prompt has more than N tokens ("inclusive": true: N or more, as LiteLLM bills xAI).
    A rate a tier leaves out is the entry's base rate when read.
    From *_above_<N>k_tokens keys, a rate the tier does not name is the base rate (LiteLLM).
    From a Dashscope-style tiered_pricing table, the first range gives the base rates and each
    later range a tier; a cache rate the table does not name is that tier's input rate.
  * Token counts written as floats (2000000.0) become integers; a token limit of 0 (unknown) is
    left out.
Entries without litellm_provider (sample_spec, fallback_generalizations) are skipped.
Output: one line per model, keys sorted, so regenerating shows a readable diff.
"""

import hashlib
import json
import math
import os
import re
import sys

KEEP_PRICES = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
    "input_cost_per_image",
    "output_cost_per_image",
    "input_cost_per_request",
]
TIER_RATES = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
]
INCLUSIVE_THRESHOLD_PROVIDERS = {"xai"}
ABOVE_RE = re.compile(r"^input_cost_per_token_above_(\d+)(k?)_tokens$")


class SourceError(Exception):
    pass


def price(entry, field, key):
    v = entry.get(field)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise SourceError(f"{key}: {field} is not a non-negative number: {v!r}")
    return float(v)


def token_count(entry, field, key):
    v = entry.get(field)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != int(v):
        raise SourceError(f"{key}: {field} is not a non-negative integer: {v!r}")
    return int(v)


def threshold_tiers(entry, key, base):
    """Tiers from input_cost_per_token_above_<N>[k]_tokens (service-tier variants are ignored)."""
    tiers = []
    for field in entry:
        m = ABOVE_RE.match(field)
        if not m:
            continue
        n = int(m.group(1)) * (1000 if m.group(2) else 1)
        suffix = f"_above_{m.group(1)}{m.group(2)}_tokens"
        tier = {"above": n}
        for rate in TIER_RATES:
            if rate == "input_cost_per_token":
                v = price(entry, field, key)
            elif rate == "cache_creation_input_token_cost_above_1hr":
                v = price(entry, "cache_creation_input_token_cost_above_1hr" + suffix, key)
            elif rate == "output_cost_per_reasoning_token":
                v = None  # LiteLLM keeps the base reasoning rate above a threshold
            else:
                v = price(entry, rate + suffix, key)
            if v is None:
                v = base.get(rate)
            if v is not None:
                tier[rate] = v
        tiers.append(tier)
    return sorted(tiers, key=lambda t: t["above"])


def table_tiers(entry, key, out):
    """Base rates and tiers from a tiered_pricing list of {"range": [lo, hi], rates...}."""
    table = entry.get("tiered_pricing")
    if not isinstance(table, list):
        return []
    rows = [t for t in table if isinstance(t, dict) and isinstance(t.get("range"), list)
            and len(t["range"]) == 2 and "input_cost_per_token" in t]
    if not rows:
        return []  # e.g. search tiers keyed by max_results_range: not token pricing
    rows.sort(key=lambda t: t["range"][0])
    tiers = []
    for i, row in enumerate(rows):
        rates = {}
        for rate in TIER_RATES:
            v = price(row, rate, key)
            if v is not None:
                rates[rate] = v
        if "output_cost_per_token" not in rates and "output_cost_per_token" in out:
            rates["output_cost_per_token"] = out["output_cost_per_token"]
        if i == 0:
            # The table takes precedence over flat rates, as in LiteLLM: a flat cache or
            # reasoning rate the first range leaves out would not be billed there either.
            for rate in TIER_RATES:
                if rate in rates:
                    out[rate] = rates[rate]
                elif rate != "output_cost_per_token":
                    out.pop(rate, None)
            continue
        # A rate the tier leaves out would be read as the base rate; LiteLLM bills it at the
        # tier's own input (cache) or output (reasoning) rate instead, so spell it out.
        for rate, fallback in (("cache_read_input_token_cost", "input_cost_per_token"),
                               ("cache_creation_input_token_cost", "input_cost_per_token"),
                               ("output_cost_per_reasoning_token", "output_cost_per_token")):
            if rate not in rates and rate in out and fallback in rates:
                rates[rate] = rates[fallback]
        lo = row["range"][0]
        if isinstance(lo, bool) or not isinstance(lo, (int, float)) or lo < 0 or lo != int(lo):
            raise SourceError(f"{key}: tiered_pricing range start is not an integer: {lo!r}")
        tiers.append({"above": int(lo), **rates})
    return tiers


def convert(key, entry):
    out = {"litellm_provider": entry["litellm_provider"]}
    if isinstance(entry.get("mode"), str):
        out["mode"] = entry["mode"]
    for field in KEEP_PRICES:
        v = price(entry, field, key)
        if v is not None:
            out[field] = v
    if "cache_read_input_token_cost" not in out:
        v = price(entry, "input_cost_per_token_cache_hit", key)
        if v is not None:
            out["cache_read_input_token_cost"] = v
    if "input_cost_per_request" not in out:
        v = price(entry, "input_cost_per_query", key)
        if v is not None:
            out["input_cost_per_request"] = v
    max_in = token_count(entry, "max_input_tokens", key)
    max_out = token_count(entry, "max_output_tokens", key)
    if max_out is None:
        max_out = token_count(entry, "max_tokens", key)
    # A limit of 0 means "not known" in the source; as a limit it would refuse every request.
    if max_in:
        out["max_input_tokens"] = max_in
    if max_out:
        out["max_output_tokens"] = max_out

    tiers = table_tiers(entry, key, out)
    if not tiers:
        base = {r: out[r] for r in TIER_RATES if r in out}
        tiers = threshold_tiers(entry, key, base)
    if tiers:
        if out["litellm_provider"] in INCLUSIVE_THRESHOLD_PROVIDERS:
            for t in tiers:
                t["inclusive"] = True
        out["tiers"] = tiers
    return out


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    src = argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dst = argv[2] if len(argv) == 3 else os.path.join(root, "data", "model_prices.json")
    with open(src, "rb") as f:
        raw = f.read()
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise SourceError("source root is not an object")

    models = {}
    skipped = []
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("litellm_provider"), str) \
                or key == "sample_spec":
            skipped.append(key)
            continue
        models[key] = convert(key, entry)

    attribution = {
        "source": "model_prices_and_context_window.json of LiteLLM "
                  "(https://github.com/BerriAI/litellm)",
        "license": "MIT, Copyright (c) 2023 Berri AI; see data/NOTICE.md",
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "generator": "scripts/gen_model_prices.py",
        "models": len(models),
    }
    dump = lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True, allow_nan=False)
    lines = ['"_attribution":' + dump(attribution)]
    lines += [dump(k) + ":" + dump(models[k]) for k in sorted(models)]
    tmp = dst + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    os.replace(tmp, dst)
    print(f"{dst}: {len(models)} models (skipped: {', '.join(skipped) or 'none'})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (SourceError, OSError, ValueError) as e:
        print(f"gen_model_prices: {e}", file=sys.stderr)
        sys.exit(1)
