"""The ``@pipe`` function library: ``{@namespace.name}`` cells resolve to these.

Every function is pure: it takes already-resolved values and returns a new value
(arguments are never changed in place, so a mapping cannot alter job data behind the
interpreter's back). ``@date.now`` is the one clock reader; it takes the time from
the :class:`PipeContext` (``workflow.now()`` inside a run) so replays see the same
instant. Semantics follow the JavaScript operations the names come from; where Python
cannot match JavaScript exactly the difference is listed in ``docs/yaml.md``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

FUNCTIONS: dict[str, Callable[..., Any]] = {}


class PipeFunctionError(ValueError):
    """A ``@pipe`` function was called with values it cannot work with."""


def _register(namespace: str, table: dict[str, Callable[..., Any]]) -> None:
    for name, fn in table.items():
        FUNCTIONS[f"{namespace}.{name}"] = fn


# ------------------------------------------------------------------ JS-like coercions


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: empty string, 0, NaN, null/None and false are falsy;
    empty lists and dicts are truthy (unlike Python)."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return not (value == 0 or (isinstance(value, float) and math.isnan(value)))
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float | int:
    """JavaScript ``Number(value)``: strings are parsed (blank is 0), booleans are 0/1,
    None is 0, anything unparsable is NaN."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            return (
                int(text, 0)
                if re.fullmatch(r"[+-]?(0[xob][0-9a-f]+|\d+)", text, re.I)
                else float(text)
            )
        except ValueError:
            return math.nan
    return math.nan


def _num_out(value: float | int) -> float | int:
    """Integral floats come back as ints, as JSON (and JavaScript) cannot tell them apart."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def js_string(value: Any) -> str:
    """JavaScript ``String(value)`` for JSON values."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(_num_out(value))
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _loose_equal(a: Any, b: Any) -> bool:
    """JavaScript ``==`` for JSON values: null equals only null; a number and a string
    or boolean compare as numbers."""
    if a is None or b is None:
        return a is None and b is None
    if type(a) is type(b) or (_is_num(a) and _is_num(b)):
        return a == b
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return to_number(a) == to_number(b)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _strict_equal(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, dict)):
        return a is b  # JS compares objects by identity; two mapped values never share it
    return a == b


def _compare(a: Any, b: Any, op: Callable[[Any, Any], bool]) -> bool:
    """JavaScript relational comparison: two strings compare as strings, anything else
    as numbers (NaN compares false)."""
    if isinstance(a, str) and isinstance(b, str):
        return op(a, b)
    x, y = to_number(a), to_number(b)
    if (isinstance(x, float) and math.isnan(x)) or (isinstance(y, float) and math.isnan(y)):
        return False
    return op(x, y)


# ---------------------------------------------------------------------------- @array


def _array(value: Any) -> list:
    if not isinstance(value, list):
        raise PipeFunctionError(f"expected an array, got {type(value).__name__}")
    return value


def _index(length: int, i: Any, default: int) -> int:
    if i is None:
        return default
    i = int(to_number(i))
    return max(length + i, 0) if i < 0 else min(i, length)


def _array_get(arr: Any, index: Any) -> Any:
    items = _array(arr)
    i = int(to_number(index))
    return items[i] if 0 <= i < len(items) else None


def _array_sort(arr: Any, order: str = "ASCENDING") -> list:
    items = list(_array(arr))
    # JavaScript's default sort compares string forms; numbers-only arrays are sorted
    # numerically here, which is what pipelines mean (see docs/yaml.md).
    if all(_is_num(v) for v in items):
        items.sort()
    else:
        items.sort(key=js_string)
    return items[::-1] if str(order).upper().startswith("DESC") else items


_register(
    "array",
    {
        "get": _array_get,
        "length": lambda arr: len(_array(arr)),
        "concat": lambda arr, *more: (
            _array(arr) + [x for m in more for x in (m if isinstance(m, list) else [m])]
        ),
        "indexOf": lambda arr, v: next(
            (i for i, x in enumerate(_array(arr)) if _strict_equal(x, v)), -1
        ),
        "lastIndexOf": lambda arr, v: max(
            (i for i, x in enumerate(_array(arr)) if _strict_equal(x, v)), default=-1
        ),
        "includes": lambda arr, v: any(_strict_equal(x, v) for x in _array(arr)),
        "join": lambda arr, sep=",": js_string(sep).join(
            "" if v is None else js_string(v) for v in _array(arr)
        ),
        "slice": lambda arr, start=None, end=None: _array(arr)[
            _index(len(arr), start, 0) : _index(len(arr), end, len(arr))
        ],
        "sort": _array_sort,
        "reverse": lambda arr: list(reversed(_array(arr))),
        "push": lambda arr, *items: _array(arr) + list(items),
        "unshift": lambda arr, *items: list(items) + _array(arr),
        "pop": lambda arr: _array(arr)[-1] if arr else None,
        "shift": lambda arr: _array(arr)[0] if arr else None,
        "first": lambda arr: _array(arr)[0] if arr else None,
        "last": lambda arr: _array(arr)[-1] if arr else None,
        "flat": lambda arr: [y for x in _array(arr) for y in (x if isinstance(x, list) else [x])],
        "isArray": lambda value: isinstance(value, list),
        "splice": lambda arr, start, count=None, *items: _splice(_array(arr), start, count, items),
    },
)


def _splice(arr: list, start: Any, count: Any, items: tuple) -> list:
    """Like ``Array.prototype.splice`` but returning the new array (not the removed items)."""
    i = _index(len(arr), start, 0)
    n = len(arr) - i if count is None else max(int(to_number(count)), 0)
    return arr[:i] + list(items) + arr[i + n :]


# -------------------------------------------------------------------------- @bitwise


def _int32(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float) and (math.isnan(number) or math.isinf(number)):
        return 0
    n = int(number) & 0xFFFFFFFF
    return n - 2**32 if n >= 2**31 else n


def _uint32(value: Any) -> int:
    return _int32(value) & 0xFFFFFFFF


_register(
    "bitwise",
    {
        "and": lambda a, b: _int32(_int32(a) & _int32(b)),
        "or": lambda a, b: _int32(_int32(a) | _int32(b)),
        "xor": lambda a, b: _int32(_int32(a) ^ _int32(b)),
        "not": lambda a: _int32(~_int32(a)),
        "leftShift": lambda a, b: _int32(_int32(a) << (_uint32(b) & 31)),
        "rightShift": lambda a, b: _int32(a) >> (_uint32(b) & 31),
        "unsignedRightShift": lambda a, b: _uint32(a) >> (_uint32(b) & 31),
    },
)

# ---------------------------------------------------------------------- @conditional

_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "greaterThan": lambda a, b: _compare(a, b, lambda x, y: x > y),
    "greaterThanOrEqual": lambda a, b: _compare(a, b, lambda x, y: x >= y),
    "lessThan": lambda a, b: _compare(a, b, lambda x, y: x < y),
    "lessThanOrEqual": lambda a, b: _compare(a, b, lambda x, y: x <= y),
}

_register(
    "conditional",
    {
        "ternary": lambda cond, yes, no: yes if js_truthy(cond) else no,
        "equality": _loose_equal,
        "strictEquality": _strict_equal,
        "inequality": lambda a, b: not _loose_equal(a, b),
        "strictInequality": lambda a, b: not _strict_equal(a, b),
        "nullish": lambda a, b: b if a is None else a,
        **_RELATIONS,
        # short names, as the number namespace has them
        "gt": _RELATIONS["greaterThan"],
        "gte": _RELATIONS["greaterThanOrEqual"],
        "lt": _RELATIONS["lessThan"],
        "lte": _RELATIONS["lessThanOrEqual"],
    },
)

# ----------------------------------------------------------------------------- @date
# Dates travel through pipes as ISO-8601 strings or epoch milliseconds (JSON has no
# date type); every function accepts either and the setters return epoch milliseconds,
# as JavaScript's Date setters do.


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if _is_num(value):
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as err:
            raise PipeFunctionError(f"not a date: {value!r}") from err
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise PipeFunctionError(f"not a date: {value!r}")


def epoch_ms(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return delta // timedelta(milliseconds=1)


def iso(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _utc(value: Any) -> datetime:
    return to_datetime(value).astimezone(timezone.utc)


def _set(value: Any, **fields: Any) -> int:
    moment = _utc(value)
    year = int(fields.pop("year", moment.year))
    month = int(fields.pop("month", moment.month - 1))  # JS months count from 0
    day = int(fields.pop("day", moment.day))
    carry_years, month = divmod(month, 12)
    base = moment.replace(year=year + carry_years, month=month + 1, day=1)
    moment = base + timedelta(days=day - 1)
    moment = moment.replace(**{k: int(v) for k, v in fields.items()})
    return epoch_ms(moment)


_register(
    "date",
    {
        "toISOString": lambda d: iso(to_datetime(d)),
        "toISOXString": lambda d: iso(to_datetime(d)),
        "toJSON": lambda d: iso(to_datetime(d)),
        "valueOf": lambda d: epoch_ms(to_datetime(d)),
        "getTime": lambda d: epoch_ms(to_datetime(d)),
        "parse": lambda d: epoch_ms(to_datetime(d)),
        "fromISOString": lambda d: epoch_ms(to_datetime(d)),
        "getFullYear": lambda d: _utc(d).year,
        "getUTCFullYear": lambda d: _utc(d).year,
        "getMonth": lambda d: _utc(d).month - 1,
        "getUTCMonth": lambda d: _utc(d).month - 1,
        "getDate": lambda d: _utc(d).day,
        "getUTCDate": lambda d: _utc(d).day,
        "getDay": lambda d: (_utc(d).weekday() + 1) % 7,
        "getUTCDay": lambda d: (_utc(d).weekday() + 1) % 7,
        "getHours": lambda d: _utc(d).hour,
        "getUTCHours": lambda d: _utc(d).hour,
        "getMinutes": lambda d: _utc(d).minute,
        "getUTCMinutes": lambda d: _utc(d).minute,
        "getSeconds": lambda d: _utc(d).second,
        "getUTCSeconds": lambda d: _utc(d).second,
        "getMilliseconds": lambda d: _utc(d).microsecond // 1000,
        "getUTCMilliseconds": lambda d: _utc(d).microsecond // 1000,
        "getTimezoneOffset": lambda d: 0,
        "setFullYear": lambda d, y: _set(d, year=y),
        "setMonth": lambda d, m: _set(d, month=m),
        "setDate": lambda d, day: _set(d, day=day),
        "setHours": lambda d, h: epoch_ms(_utc(d).replace(hour=0) + timedelta(hours=int(h))),
        "setMinutes": lambda d, m: epoch_ms(_utc(d).replace(minute=0) + timedelta(minutes=int(m))),
        "setSeconds": lambda d, s: epoch_ms(_utc(d).replace(second=0) + timedelta(seconds=int(s))),
        "setMilliseconds": lambda d, ms: epoch_ms(
            _utc(d).replace(microsecond=0) + timedelta(milliseconds=int(ms))
        ),
        "addDays": lambda d, n: epoch_ms(_utc(d) + timedelta(days=to_number(n))),
        "addHours": lambda d, n: epoch_ms(_utc(d) + timedelta(hours=to_number(n))),
        "addMinutes": lambda d, n: epoch_ms(_utc(d) + timedelta(minutes=to_number(n))),
        "addSeconds": lambda d, n: epoch_ms(_utc(d) + timedelta(seconds=to_number(n))),
        "addMilliseconds": lambda d, n: epoch_ms(_utc(d) + timedelta(milliseconds=to_number(n))),
        "toDateString": lambda d: _utc(d).strftime("%a %b %d %Y"),
        "toTimeString": lambda d: _utc(d).strftime(
            "%H:%M:%S GMT+0000 (Coordinated Universal Time)"
        ),
        "toUTCString": lambda d: _utc(d).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "toLocaleDateString": lambda d, *_: f"{_utc(d).month}/{_utc(d).day}/{_utc(d).year}",
        "toLocaleTimeString": lambda d, *_: _locale_time(_utc(d)),
        "toLocaleString": lambda d, *_: (
            f"{_utc(d).month}/{_utc(d).day}/{_utc(d).year}, {_locale_time(_utc(d))}"
        ),
        # now is special: it reads the context clock (see pipe.py)
    },
)


def _locale_time(moment: datetime) -> str:
    """en-US, UTC: the only locale supported (see docs/yaml.md)."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d}:{moment.second:02d} {'AM' if moment.hour < 12 else 'PM'}"


# ----------------------------------------------------------------------------- @json


def _stringify(value: Any, _replacer: Any = None, indent: Any = None) -> str:
    if indent:
        return json.dumps(value, indent=int(to_number(indent)), ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parse_json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as err:
        raise PipeFunctionError(f"@json.parse: {err}") from err


_register("json", {"parse": _parse_json, "stringify": _stringify})

# -------------------------------------------------------------------------- @logical


def _and(a: Any, b: Any) -> Any:
    return b if js_truthy(a) else a


def _or(a: Any, b: Any) -> Any:
    return a if js_truthy(a) else b


_register("logical", {"and": _and, "or": _or})

# ----------------------------------------------------------------------------- @math


def _fold(values: tuple, op: Callable[[Any, Any], Any]) -> Any:
    numbers = [
        to_number(v)
        for v in (values[0] if len(values) == 1 and isinstance(values[0], list) else values)
    ]
    if not numbers:
        raise PipeFunctionError("no operands")
    result = numbers[0]
    for n in numbers[1:]:
        result = op(result, n)
    return _num_out(result)


def _divide(a: Any, b: Any) -> Any:
    if b == 0:
        return math.nan if a == 0 else math.copysign(math.inf, a) * (1 if str(b)[0] != "-" else -1)
    return a / b


def _js_round(x: Any) -> Any:
    """JavaScript ``Math.round``: halves go toward +infinity (Python rounds to even)."""
    n = to_number(x)
    return n if isinstance(n, float) and (math.isnan(n) or math.isinf(n)) else math.floor(n + 0.5)


def _unary_math(fn: Callable[[float], Any]) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        try:
            return _num_out(fn(to_number(x)))
        except (ValueError, OverflowError):
            return math.nan

    return apply


def _js_mod(a: Any, b: Any) -> Any:
    x, y = to_number(a), to_number(b)
    if y == 0:
        return math.nan
    return (
        _num_out(math.fmod(x, y))
        if isinstance(x, float) or isinstance(y, float)
        else int(math.fmod(x, y))
    )


_register(
    "math",
    {
        "add": lambda *v: _fold(v, lambda a, b: a + b),
        "subtract": lambda *v: _fold(v, lambda a, b: a - b),
        "multiply": lambda *v: _fold(v, lambda a, b: a * b),
        "divide": lambda *v: _fold(v, _divide),
        "remainder": _js_mod,
        "abs": _unary_math(abs),
        "ceil": _unary_math(math.ceil),
        "floor": _unary_math(math.floor),
        "round": lambda x: _num_out(_js_round(x)),
        "trunc": _unary_math(math.trunc),
        "sign": _unary_math(lambda x: (x > 0) - (x < 0)),
        "sqrt": _unary_math(math.sqrt),
        "cbrt": _unary_math(lambda x: math.copysign(abs(x) ** (1 / 3), x)),
        "pow": lambda a, b: _num_out(_safe_pow(to_number(a), to_number(b))),
        "exp": _unary_math(math.exp),
        "expm1": _unary_math(math.expm1),
        "log": _unary_math(math.log),
        "log10": _unary_math(math.log10),
        "log2": _unary_math(math.log2),
        "log1p": _unary_math(math.log1p),
        "sin": _unary_math(math.sin),
        "cos": _unary_math(math.cos),
        "tan": _unary_math(math.tan),
        "asin": _unary_math(math.asin),
        "acos": _unary_math(math.acos),
        "atan": _unary_math(math.atan),
        "atan2": lambda y, x: _num_out(math.atan2(to_number(y), to_number(x))),
        "sinh": _unary_math(math.sinh),
        "cosh": _unary_math(math.cosh),
        "tanh": _unary_math(math.tanh),
        "hypot": lambda *v: _num_out(math.hypot(*(to_number(x) for x in v))),
        "max": lambda *v: _extreme(v, max, -math.inf),
        "min": lambda *v: _extreme(v, min, math.inf),
        "fround": _unary_math(float),
    },
)


def _extreme(values: tuple, pick: Callable[..., Any], empty: float) -> Any:
    """Math.max / Math.min over the arguments, or over one list argument (a pipe row
    often carries a list); NaN when any operand is NaN, as in JavaScript."""
    items = values[0] if len(values) == 1 and isinstance(values[0], list) else values
    numbers = [to_number(x) for x in items]
    if not numbers:
        return empty
    if any(isinstance(n, float) and math.isnan(n) for n in numbers):
        return math.nan
    return _num_out(pick(numbers))


def _safe_pow(a: Any, b: Any) -> Any:
    try:
        return a**b
    except (OverflowError, ZeroDivisionError):
        return math.inf
    finally:
        pass


# --------------------------------------------------------------------------- @number


def _to_fixed(x: Any, digits: Any = 0) -> str:
    """``Number.prototype.toFixed``: the decimal nearest the binary value, rounded half
    away from zero on that exact value (as JavaScript does), never in exponent form
    below 1e21."""
    from decimal import ROUND_HALF_UP, Decimal

    n = to_number(x)
    d = int(to_number(digits))
    if isinstance(n, float) and (math.isnan(n) or math.isinf(n)):
        return js_string(n)
    if abs(n) >= 1e21:
        return js_string(n)
    exact = Decimal(n)  # the binary value exactly, so 1.005 stays 1.00499..., like JS
    return str(exact.quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP))


def _parse_int(text: Any, radix: Any = 10) -> Any:
    s = js_string(text).strip()
    base = int(to_number(radix)) or 10
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if base == 16 and s.lower().startswith("0x"):
        s = s[2:]
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    prefix = ""
    for ch in s.lower():
        if ch not in digits:
            break
        prefix += ch
    return sign * int(prefix, base) if prefix else math.nan


def _parse_float(text: Any) -> Any:
    match = re.match(
        r"\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|Infinity)", js_string(text)
    )
    return _num_out(float(match.group(0))) if match else math.nan


_register(
    "number",
    {
        "isFinite": lambda x: _is_num(x) and math.isfinite(x),
        "isInteger": lambda x: _is_num(x) and math.isfinite(x) and float(x).is_integer(),
        "isNaN": lambda x: isinstance(x, float) and math.isnan(x),
        "isEven": lambda x: (
            _is_num(x) and math.isfinite(x) and float(x).is_integer() and int(x) % 2 == 0
        ),
        "isOdd": lambda x: (
            _is_num(x) and math.isfinite(x) and float(x).is_integer() and int(x) % 2 == 1
        ),
        "parseFloat": _parse_float,
        "parseInt": _parse_int,
        "toFixed": _to_fixed,
        "toString": lambda x, radix=10: js_string(x) if int(radix) == 10 else _radix(x, int(radix)),
        "gt": _RELATIONS["greaterThan"],
        "gte": _RELATIONS["greaterThanOrEqual"],
        "lt": _RELATIONS["lessThan"],
        "lte": _RELATIONS["lessThanOrEqual"],
        "max": lambda *v: _extreme(v, max, -math.inf),
        "min": lambda *v: _extreme(v, min, math.inf),
        "pow": lambda a, b: _num_out(_safe_pow(to_number(a), to_number(b))),
        "round": lambda x: _num_out(_js_round(x)),
    },
)


def _radix(x: Any, base: int) -> str:
    n = int(to_number(x))
    if n == 0:
        return "0"
    digits, sign, n = [], "-" if n < 0 else "", abs(n)
    while n:
        n, r = divmod(n, base)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[r])
    return sign + "".join(reversed(digits))


# --------------------------------------------------------------------------- @object


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise PipeFunctionError(f"expected an object, got {type(value).__name__}")
    return value


def _object_get(obj: Any, path: Any) -> Any:
    current = obj
    for part in js_string(path).split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit():
            current = current[int(part)] if int(part) < len(current) else None
        else:
            return None
    return current


def _object_set(obj: Any, key: Any, value: Any) -> dict:
    return {**_object(obj), js_string(key): value}


def _object_create(*pairs: Any) -> dict:
    """``create(k1, v1, k2, v2, ...)`` -> ``{k1: v1, k2: v2}``."""
    if len(pairs) % 2:
        raise PipeFunctionError("@object.create takes key/value pairs")
    return {js_string(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)}


_register(
    "object",
    {
        "get": _object_get,
        "set": _object_set,
        "create": _object_create,
        "keys": lambda obj: list(_object(obj)),
        "values": lambda obj: list(_object(obj).values()),
        "entries": lambda obj: [[k, v] for k, v in _object(obj).items()],
        "fromEntries": lambda pairs: {js_string(k): v for k, v in _array(pairs)},
        "assign": lambda target, *sources: {
            k: v for o in (target, *sources) for k, v in _object(o).items()
        },
        "hasOwnProperty": lambda obj, key: js_string(key) in _object(obj),
        "delete": lambda obj, key: {k: v for k, v in _object(obj).items() if k != js_string(key)},
        "isObject": lambda value: isinstance(value, dict),
    },
)

# --------------------------------------------------------------------------- @string


def _str(value: Any) -> str:
    return js_string(value)


def _char_at(s: Any, i: Any = 0) -> str:
    text, index = _str(s), int(to_number(i))
    return text[index] if 0 <= index < len(text) else ""


def _substring(s: Any, start: Any, end: Any = None) -> str:
    text = _str(s)
    a = min(max(int(to_number(start)), 0), len(text))
    b = len(text) if end is None else min(max(int(to_number(end)), 0), len(text))
    return text[min(a, b) : max(a, b)]


def _pad(s: Any, length: Any, fill: Any, *, start: bool) -> str:
    text, width, filler = _str(s), int(to_number(length)), _str(" " if fill is None else fill)
    if width <= len(text) or not filler:
        return text
    padding = (filler * width)[: width - len(text)]
    return padding + text if start else text + padding


_register(
    "string",
    {
        "charAt": _char_at,
        "concat": lambda *parts: "".join(_str(p) for p in parts),
        "includes": lambda s, sub, pos=0: _str(sub) in _str(s)[int(to_number(pos)) :],
        "indexOf": lambda s, sub, pos=0: _str(s).find(_str(sub), int(to_number(pos))),
        "lastIndexOf": lambda s, sub: _str(s).rfind(_str(sub)),
        "startsWith": lambda s, sub: _str(s).startswith(_str(sub)),
        "endsWith": lambda s, sub: _str(s).endswith(_str(sub)),
        "length": lambda s: len(_str(s)),
        "padStart": lambda s, n, fill=" ": _pad(s, n, fill, start=True),
        "padEnd": lambda s, n, fill=" ": _pad(s, n, fill, start=False),
        "repeat": lambda s, n: _str(s) * int(to_number(n)),
        # String.replace with a string pattern replaces the first occurrence only
        "replace": lambda s, old, new: _str(s).replace(_str(old), _str(new), 1),
        "replaceAll": lambda s, old, new: _str(s).replace(_str(old), _str(new)),
        "slice": lambda s, start=0, end=None: _str(s)[
            _index(len(_str(s)), start, 0) : _index(len(_str(s)), end, len(_str(s)))
        ],
        "split": lambda s, sep=None: (
            [_str(s)]
            if sep is None
            else (list(_str(s)) if _str(sep) == "" else _str(s).split(_str(sep)))
        ),
        "substring": _substring,
        "toLowerCase": lambda s: _str(s).lower(),
        "toUpperCase": lambda s: _str(s).upper(),
        "trim": lambda s: _str(s).strip(),
        "trimStart": lambda s: _str(s).lstrip(),
        "trimEnd": lambda s: _str(s).rstrip(),
    },
)

# --------------------------------------------------------------------------- @symbol
# Constants: a row ["{@symbol.null}"] yields the value. JSON has no undefined, so
# ``undefined`` is None as well (documented).

_register(
    "symbol",
    {
        "null": lambda *_: None,
        "undefined": lambda *_: None,
        "whitespace": lambda *_: " ",
        "object": lambda *_: {},
        "array": lambda *_: [],
        "posInfinity": lambda *_: math.inf,
        "negInfinity": lambda *_: -math.inf,
        "NaN": lambda *_: math.nan,
        "date": lambda *_: None,  # replaced with the context clock in pipe.py
    },
)

# ---------------------------------------------------------------------------- @unary

_register(
    "unary",
    {
        "not": lambda x: not js_truthy(x),
        "positive": lambda x: _num_out(to_number(x)),
        "negative": lambda x: _num_out(-to_number(x)),
        "bitwise_not": lambda x: _int32(~_int32(x)),
    },
)

# The names that read the context clock rather than their arguments.
CLOCK_FUNCTIONS = frozenset({"date.now", "symbol.date"})
