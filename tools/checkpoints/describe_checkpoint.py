"""Prints a canonical JSON description of a torch checkpoint, for the C# interop tests.

    /usr/bin/python3 tools/checkpoints/describe_checkpoint.py FILE

Loads FILE with torch.load and, on torch >= 2 (1.13's weights_only unpickler lacks BINFLOAT, which every
checkpoint with a float in it uses), also with weights_only=True and checks both agree; then prints the description of the value: containers keep their exact Python type
(dict vs collections.OrderedDict, list, tuple), floats are given as the hex of their IEEE-754 float64 bits so
the comparison is exact, and tensors give dtype, shape, contiguity and their values (float64 bits for
floating dtypes, integers otherwise). Exits non-zero with a message on any failure.
"""
import collections
import json
import struct
import sys

import torch


def f64_hex(x):
    return struct.pack("<d", float(x)).hex()


def describe(o):
    if o is None:
        return {"type": "None"}
    if isinstance(o, bool):
        return {"type": "bool", "value": o}
    if isinstance(o, int):
        return {"type": "int", "value": str(o)}
    if isinstance(o, float):
        return {"type": "float", "value": f64_hex(o)}
    if isinstance(o, str):
        return {"type": "str", "value": o}
    if isinstance(o, bytes):
        return {"type": "bytes", "value": o.hex()}
    if isinstance(o, torch.Tensor):
        if type(o) is not torch.Tensor:
            raise SystemExit(f"tensor has type {type(o)}")
        flat = o.detach().reshape(-1)
        if o.dtype.is_floating_point:
            values = [f64_hex(x) for x in flat.double().tolist()]
        else:
            values = [str(int(x)) for x in flat.long().tolist()]
        return {"type": "tensor", "dtype": str(o.dtype).replace("torch.", ""), "shape": list(o.shape),
                "contiguous": o.is_contiguous(), "values": values}
    if type(o) is collections.OrderedDict:
        return {"type": "OrderedDict", "items": [[describe(k), describe(v)] for k, v in o.items()]}
    if type(o) is dict:
        return {"type": "dict", "items": [[describe(k), describe(v)] for k, v in o.items()]}
    if type(o) is list:
        return {"type": "list", "items": [describe(v) for v in o]}
    if type(o) is tuple:
        return {"type": "tuple", "items": [describe(v) for v in o]}
    raise SystemExit(f"unexpected value of type {type(o)}")


def main():
    path = sys.argv[1]
    plain = describe(torch.load(path, map_location="cpu"))
    if int(torch.__version__.split(".")[0]) >= 2:
        safe = describe(torch.load(path, map_location="cpu", weights_only=True))
        if safe != plain:
            raise SystemExit("weights_only=True and plain torch.load disagree")
    print(json.dumps(plain, sort_keys=True, ensure_ascii=True))


if __name__ == "__main__":
    main()
