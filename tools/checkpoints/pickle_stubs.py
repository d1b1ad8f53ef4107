"""Stand-ins for classes that published checkpoints pickle but that are not installed here (fairseq, Lightning).

Each stub is registered under the real module path and builds the same instance state as the real class, so a
pickle of a stub names the same global and carries the same BUILD/SETITEMS state as the real file does.
"""
import sys
import types


def register(cls, module, name=None):
    """Makes `module.name` importable by pickle and resolve to `cls`."""
    name = name or cls.__name__
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        path = ".".join(parts[:i])
        if path not in sys.modules:
            sys.modules[path] = types.ModuleType(path)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[path])
    cls.__module__, cls.__qualname__, cls.__name__ = module, name, name
    setattr(sys.modules[module], name, cls)
    return cls


class Dictionary:
    """fairseq.data.dictionary.Dictionary's state, as its __init__ and add_symbol build it."""

    def __init__(self, bos="<s>", pad="<pad>", eos="</s>", unk="<unk>"):
        self.bos_word, self.unk_word, self.pad_word, self.eos_word = bos, unk, pad, eos
        self.symbols = []
        self.count = []
        self.indices = {}
        self.bos_index = self.add_symbol(bos)
        self.pad_index = self.add_symbol(pad)
        self.eos_index = self.add_symbol(eos)
        self.unk_index = self.add_symbol(unk)
        self.nspecial = len(self.symbols)

    def add_symbol(self, word, n=1):
        if word in self.indices:
            self.count[self.indices[word]] += n
            return self.indices[word]
        idx = len(self.symbols)
        self.indices[word] = idx
        self.symbols.append(word)
        self.count.append(n)
        return idx


class AttributeDict(dict):
    """Lightning's hyper-parameter dict: a dict with attribute access and no state of its own."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(key) from e

    def __setattr__(self, key, val):
        self[key] = val


register(Dictionary, "fairseq.data.dictionary")
register(AttributeDict, "pytorch_lightning.utilities.parsing")
