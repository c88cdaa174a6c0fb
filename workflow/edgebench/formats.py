"""Every format edgebench knows: its file suffix, toolchain image and the runtime that runs it.

Shared vocabulary of every stage (settings, images, conversion, devices), so it sits at the
package's top level rather than inside one stage. The formats are those the converters declare
(edgebench.convert.interface: each converter lists the formats it makes); `FORMATS` is read
from that registry on first use, in the converters' `rank` order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    runtime: str  # the agent runtime family that runs it (a name of the runtime registry)
    precision: str  # fp32 | fp16 | dynamic | int8
    suffix: str
    image: str  # containers/<image>/Dockerfile holds its toolchain
    source: str | None = None  # the format it is made from (its file), None: from the .keras
    colour: str | None = None  # the report's colour for it (None: one of the spare colours)


class _Formats(Mapping):
    """Name -> Format, over every registered converter (loaded when first read)."""

    def __init__(self) -> None:
        self._formats: dict[str, Format] | None = None

    def _all(self) -> dict[str, Format]:
        if self._formats is None:
            from edgebench.convert.interface import CONVERTERS

            made: dict[str, tuple[Format, str]] = {}
            by_rank = sorted(CONVERTERS.entries().values(), key=lambda entry: entry.rank)
            for converter in by_rank:
                for fmt in converter.formats:
                    if fmt.name in made:
                        raise RuntimeError(
                            f"format {fmt.name} is made by two converters: {made[fmt.name][1]} "
                            f"and {converter.name}; rename one or uninstall its plugin"
                        )
                    made[fmt.name] = (fmt, converter.name)
            self._formats = {name: fmt for name, (fmt, _) in made.items()}
        return self._formats

    def __getitem__(self, name: str) -> Format:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


FORMATS: Mapping[str, Format] = _Formats()
