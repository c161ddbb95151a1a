"""Plugins by name: the built-ins plus whatever a user registers, like kube-scheduler's
`registry.go` (out-of-tree plugins are merged into the in-tree registry by name)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping


class Registry(dict[str, type]):
    """name -> plugin class; `register` refuses to shadow a name silently."""

    def register(self, cls: type, *, name: str | None = None) -> type:
        key = name or getattr(cls, "NAME", "")
        if not key:
            raise ValueError(f"plugin {cls!r} has no NAME")
        if key in self:
            raise ValueError(f"a plugin named {key!r} is already registered")
        self[key] = cls
        return cls

    def merged(self, more: Mapping[str, type]) -> Registry:
        out = Registry(self)
        for name, cls in more.items():
            out.register(cls, name=name)
        return out


def builtin_registry() -> Registry:
    from kcore.scheduler.plugins import BUILTINS  # the plugins import the framework

    return Registry(BUILTINS)


def load_plugin(path: str) -> type:
    """A plugin class from "package.module:ClassName" (for `--plugin` and config files)."""
    module, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"expected module:Class, got {path!r}")
    cls = getattr(importlib.import_module(module), attr)
    if not isinstance(cls, type):
        raise TypeError(f"{path} is not a class")
    return cls


__all__ = ["Registry", "builtin_registry", "load_plugin"]
