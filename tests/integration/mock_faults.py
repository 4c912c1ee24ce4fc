"""The fault plan of mock_openai.MockOpenAI: which fault (and extra latency) each chat request gets.

Separate from the HTTP machinery so the rules stay easy to read. Everything is keyed by the upstream model
name from the request body ("model"); the key None means "any model" (the global plan). Per request the
work is a few dict lookups under one lock: no scan over past requests, no sleeping here.

Order of precedence for one request of model M (first hit wins):
  1. M's one-shot queue          set_fault(NAME, count, model=M) / queue_faults(M, [...])
  2. the global one-shot queue   set_fault(NAME, count)
  3. M's rate rules              set_fault_rate(NAME, rate, model=M, seed)  (in the order they were set)
  4. the global rate rules       set_fault_rate(NAME, rate, seed=seed)
Rate rules draw one number from their own random.Random(seed) for each request that reaches them, so a
given seed and request order always give the same pass/fail sequence. Latency is separate: M's value if
set, else the global one, applied to every request (faulty or not).
"""
from __future__ import annotations

import random
import threading
from collections import deque

LATENCY = "latency"  # the pseudo fault name that sets a latency instead of queueing a fault
ALL_MODELS = object()  # clear()'s default: every model and the global plan


class _Rate:
    __slots__ = ("fault", "rate", "seed", "rng")

    def __init__(self, fault, rate, seed):
        self.fault = fault
        self.rate = rate
        self.seed = seed
        self.rng = random.Random(seed)


def _fault_name(v):
    if not isinstance(v, str) or not v:
        raise ValueError(f"fault must be a non-empty string, got {v!r}")
    return v


def _model_key(v):
    if v is None or isinstance(v, str):
        return v
    raise ValueError(f"model must be a string, got {v!r}")


class FaultPlan:
    def __init__(self):
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque] = {}  # model -> deque of [fault, remaining]
        self._rates: dict[str | None, dict[str, _Rate]] = {}  # model -> fault -> rule (insertion order)
        self._latency: dict[str | None, int] = {}  # model -> ms
        self._stats: dict[str, dict] = {}

    # ------------------------------------------------------------------ configuration
    def add(self, fault, count=1, model=None):
        """The next `count` requests of `model` (None: of any model) get `fault`, after those queued before."""
        fault, model, count = _fault_name(fault), _model_key(model), int(count)
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        with self._lock:
            self._queues.setdefault(model, deque()).append([fault, count])

    def queue(self, model, faults):
        """Appends one request's worth of each fault, in order. An item may also be (NAME, count)."""
        model = _model_key(model)
        if isinstance(faults, (str, bytes)) or not isinstance(faults, (list, tuple)):
            raise ValueError("queue must be a list of fault names")
        items = []
        for f in faults:
            name, count = (f[0], int(f[1])) if isinstance(f, (list, tuple)) and len(f) == 2 else (f, 1)
            if count < 1:
                raise ValueError(f"count must be >= 1, got {count}")
            items.append([_fault_name(name), count])
        with self._lock:
            self._queues.setdefault(model, deque()).extend(items)

    def set_rate(self, fault, rate, model=None, seed=0):
        """Each request of `model` fails with `fault` with probability `rate` until cleared; rate 0 removes
        the rule. Setting the same (model, fault) again replaces the rule and restarts its sequence."""
        fault, model, rate, seed = _fault_name(fault), _model_key(model), float(rate), int(seed)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        with self._lock:
            rules = self._rates.setdefault(model, {})
            rules.pop(fault, None)
            if rate > 0:
                rules[fault] = _Rate(fault, rate, seed)
            if not rules:
                del self._rates[model]

    def set_latency(self, ms, model=None):
        """Every answer of `model` (None: every model without its own value) waits `ms` before the status
        line; 0 removes it."""
        model, ms = _model_key(model), int(ms)
        if ms < 0:
            raise ValueError(f"ms must be >= 0, got {ms}")
        with self._lock:
            if ms:
                self._latency[model] = ms
            else:
                self._latency.pop(model, None)

    def clear(self, model=ALL_MODELS):
        """Forgets queued faults, rate rules and latency: all of them, or only those of `model` (None =
        the global ones). Counters are kept."""
        with self._lock:
            if model is ALL_MODELS:
                self._queues.clear()
                self._rates.clear()
                self._latency.clear()
            else:
                model = _model_key(model)
                self._queues.pop(model, None)
                self._rates.pop(model, None)
                self._latency.pop(model, None)

    def reset(self):
        """clear() and zero the counters."""
        self.clear()
        with self._lock:
            self._stats.clear()

    def apply_control(self, spec):
        """POST /_mock/fault. Raises ValueError (or KeyError/TypeError) on a malformed spec."""
        if not isinstance(spec, dict):
            raise ValueError("the body must be a JSON object")
        model = spec.get("model")
        if spec.get("clear") is True:
            return self.clear(model) if "model" in spec else self.clear()
        if "queue" in spec:
            return self.queue(model, spec["queue"])
        fault = spec["fault"]
        if fault == LATENCY:
            return self.set_latency(spec["ms"], model)
        if "rate" in spec:
            return self.set_rate(fault, spec["rate"], model, spec.get("seed", 0))
        return self.add(fault, spec.get("count", 1), model)

    # ------------------------------------------------------------------ per request
    def pick(self, model):
        """For one chat request whose body "model" is `model`: (fault name or None, latency ms).
        Counts the request (and the fault, when one is injected) in the stats."""
        key = model if isinstance(model, str) else None
        with self._lock:
            fault = None
            if key is not None:
                fault = self._take(key)
            if fault is None:
                fault = self._take(None)
            if fault is None and key is not None:
                fault = self._draw(key)
            if fault is None:
                fault = self._draw(None)
            latency = self._latency.get(key, self._latency.get(None, 0))
            st = self._stats.get(key or "")
            if st is None:
                st = self._stats[key or ""] = {"requests": 0, "faults": 0, "by_fault": {}}
            st["requests"] += 1
            if fault is not None:
                st["faults"] += 1
                st["by_fault"][fault] = st["by_fault"].get(fault, 0) + 1
        return fault, latency

    def _take(self, key):
        q = self._queues.get(key)
        if not q:
            return None
        head = q[0]
        head[1] -= 1
        if head[1] <= 0:
            q.popleft()
            if not q:
                del self._queues[key]
        return head[0]

    def _draw(self, key):
        rules = self._rates.get(key)
        if not rules:
            return None
        for r in rules.values():
            if r.rng.random() < r.rate:
                return r.fault
        return None

    # ------------------------------------------------------------------ introspection
    def stats(self):
        """{"by_model": {model: {"requests", "faults", "by_fault": {name: n}}}, "total": {...}}."""
        with self._lock:
            by_model = {m: {"requests": s["requests"], "faults": s["faults"], "by_fault": dict(s["by_fault"])}
                        for m, s in self._stats.items()}
        total = {"requests": sum(s["requests"] for s in by_model.values()),
                 "faults": sum(s["faults"] for s in by_model.values())}
        return {"by_model": by_model, "total": total}

    def describe(self):
        """The pending plan (GET /_mock/fault); the global entries are under the key "*"."""
        def k(m):
            return "*" if m is None else m
        with self._lock:
            return {
                "queues": {k(m): [list(e) for e in q] for m, q in self._queues.items()},
                "rates": {k(m): [{"fault": r.fault, "rate": r.rate, "seed": r.seed} for r in rules.values()]
                          for m, rules in self._rates.items()},
                "latency_ms": {k(m): ms for m, ms in self._latency.items()},
            }
