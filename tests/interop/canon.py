"""The canonical line of an item, as every reader of the interop test prints it.

One line per item: the key, a tab, the value, each rendered from the values
the reader's language holds (not from the stored text), so that two readers
agree exactly when they read the same values:

- null, true, false as themselves;
- a number read as an integer (any size), or a double whose value is an
  integer below 2^53 in magnitude and which is not -0, as its decimal digits;
  any other double as "d:" and the 16 lowercase hex digits of its IEEE-754
  bits (so -0 is d:8000000000000000 and 0.1 d:3fb999999999999a);
- a string in double quotes, each code point 0x20..0x7e other than '"' and
  '\\' as itself, every other one as \\u{hex};
- an array as [a,b,...]; an object as {"name":value,...} in the order the
  reader's language gives its members.
"""

from __future__ import annotations

import struct
from typing import Any

_TWO53 = 2.0**53


def string(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        if 0x20 <= c <= 0x7E and ch not in '"\\':
            out.append(ch)
        else:
            out.append("\\u{%x}" % c)
    out.append('"')
    return "".join(out)


def double(x: float) -> str:
    negative_zero = x == 0.0 and struct.pack(">d", x)[0] & 0x80
    if x.is_integer() and abs(x) < _TWO53 and not negative_zero:
        return str(int(x))
    return "d:" + struct.pack(">d", x).hex()


def value(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return double(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, list):
        return "[" + ",".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(string(k) + ":" + value(x) for k, x in v.items()) + "}"
    raise TypeError(f"not a JSON value: {type(v).__name__}")


def line(key: Any, val: Any) -> str:
    return value(key) + "\t" + value(val)
