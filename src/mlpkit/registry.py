"""Name-to-factory registries: adding an activation, loss or optimizer is one entry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to factories with errors that list the valid names.

    >>> shapes = Registry("shape")
    >>> @shapes.register("square")
    ... def square(side): return side * side
    >>> shapes.get("square")(3)
    9
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory)
            return factory

        return add

    def add(self, name: str, factory: Callable[..., T]) -> None:
        key = self.key(name)
        if key in self._factories:
            raise ConfigError(f"{self.kind} {name!r} is registered twice; pick another name")
        self._factories[key] = factory

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[self.key(name)]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.key(name) in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    @staticmethod
    def key(name: str) -> str:
        """The form a name is looked up in: case, outer spaces and - vs _ do not matter."""
        return name.strip().lower().replace("-", "_")
