"""Type aliases of the sop package, for annotations."""

from typing import Dict, List, Literal, Tuple, Union

JSON = Union[None, bool, int, float, str, List["JSON"], Tuple["JSON", ...], Dict[str, "JSON"]]
"""What a JSON store takes and gives (tuples are read as lists; dict keys are str)."""

KeySpec = Union[str, List[Dict[str, str]]]
"""A key spec: ``"last,age:desc"``, or ``[{"field": "last", "order": "asc"}, ...]``."""

Mode = Literal["write", "read", "nocheck"]
"""A transaction mode."""

__all__ = ["JSON", "KeySpec", "Mode"]
