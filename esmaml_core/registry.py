"""Registries: each kind of component (task, method, operator, sampler, ...) maps its names to factories.

A registry is the only list of a kind's names: the CLI's choices, the dashboard's
select boxes and ``TrainConfig.validate`` all read them from here, so a component is
added in one place, next to its code. Each entry also carries the label people read
("hill climbing" for ``hill_climb``).

    FITNESS_SHAPINGS = Registry("fitness shaping", {"zscore": Entry(zscore, "z-score"), ...})
    weights = FITNESS_SHAPINGS["zscore"](returns)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered component: what the name stands for (a factory, a function or an object) and
    how people call it."""

    value: T
    label: str


class Registry(Mapping[str, T]):
    """Names of one kind of component mapped to what they stand for, in a fixed order.

    ``registry[name]`` is the registered value; an unknown name raises ``KeyError`` naming the
    kind and listing the known names.
    """

    def __init__(self, kind: str, entries: dict[str, Entry[T]]):
        self.kind = kind
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> T:
        return self.entry(name).value

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries)}") from None

    def label(self, name: str) -> str:
        """The name people read, e.g. "hill climbing" for ``hill_climb`` (the name itself if unknown)."""
        return self._entries[name].label if name in self._entries else str(name)

    def make(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered as ``name`` with the arguments given."""
        factory: Callable[..., Any] = self[name]  # type: ignore[assignment]
        return factory(*args, **kwargs)
