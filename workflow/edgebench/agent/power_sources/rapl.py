"""Intel RAPL through powercap: package (and dram, core) energy counters, unwrapped, for x86
edge boxes (DESIGN.md section 7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..power_common import (
    ROOT_OPTION,
    Poller,
    PowerSource,
    PowerUnavailable,
    timed,
)

# --- Intel RAPL through powercap -------------------------------------------------------------

RAPL_READ_FIX = (
    "run the agent as root, or let others read the counters: "
    "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj` (until reboot) or a udev rule"
)


@dataclass
class Zone:
    """One RAPL domain: a counter in µJ that wraps after max_energy_range_uj (its modulus is
    range + 1: the counter runs 0..range)."""

    key: str
    folder: Path
    range_uj: int = 0
    last_uj: int | None = None
    joules: float = 0.0

    def read_uj(self) -> int:
        return int((self.folder / "energy_uj").read_text().strip())

    def advance(self, reading_uj: int) -> float:
        """Cumulative joules since the first reading, the counter unwrapped."""
        if self.last_uj is not None:
            step = reading_uj - self.last_uj
            if step < 0:
                step += self.range_uj + 1
            self.joules += step / 1e6
        self.last_uj = reading_uj
        return self.joules


def zone_matches(name: str, wanted: str) -> bool:
    """`package` matches package-0, package-1...; `dram`, `core` and exact names match as named."""
    return name == wanted or name.startswith(wanted + "-")


def zone_sort_key(folder: Path):
    return [int(part) for part in folder.name.split(":")[1:] if part.isdigit()]


def nested_zones(zones: list[Zone]) -> str:
    """The selected zones inside another selected one (intel-rapl:0:N is in intel-rapl:0)."""
    folders = {zone.folder.name for zone in zones}
    return ", ".join(
        f"{zone.key} inside {zone.folder.name.rsplit(':', 1)[0]}"
        for zone in zones
        if zone.folder.name.rsplit(":", 1)[0] in folders
    )


RAPL_SUBDOMAINS = ("core", "uncore", "dram")  # RAPL sub-zones of a package zone


def nested_rapl_domains(domains: list[str]) -> list[str]:
    """The sub-domains listed beside a package domain (the agent also checks the real tree)."""
    if not any(str(name).startswith("package") for name in domains):
        return []
    return [name for name in domains if name in RAPL_SUBDOMAINS]


class Rapl(PowerSource):
    """Intel RAPL energy counters (kind "energy": cumulative joules)."""

    name = "rapl"
    description = "Intel RAPL energy counters through powercap, on x86"
    on_board = True
    kind = "energy"
    default_interval_ms = 100
    options = {
        "domains": {
            "description": "RAPL domains summed (package, dram, core, or names like package-0).",
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^[a-z0-9_.-]+$"},
            "default": ["package"],
        },
        "root": ROOT_OPTION,
    }

    def __init__(self, options: dict):
        self.interval_ms = options.get("interval_ms", self.default("interval_ms"))
        self.domains = list(options.get("domains", self.default("domains")))
        self.root = Path(options.get("root", self.default("root")))
        self.zones = None
        self.poller = None
        self.error = None

    def powercap(self) -> Path:
        return self.root / "class" / "powercap"

    def find_zones(self) -> list[Zone]:
        if self.zones is None:
            folders = sorted(self.powercap().glob("intel-rapl:*"), key=zone_sort_key)
            named = [(folder, (folder / "name").read_text().strip()) for folder in folders]
            counts = {}
            for _, name in named:
                counts[name] = counts.get(name, 0) + 1
            self.zones = [
                Zone(name if counts[name] == 1 else f"{name}@{folder.name}", folder)
                for folder, name in named
                if any(zone_matches(name, wanted) for wanted in self.domains)
            ]
            self.present = sorted({name for _, name in named})
        return self.zones

    def describe(self) -> dict:
        keys = [zone.key for zone in self.find_zones()]
        return {
            "source": self.source,
            "clock": "device-monotonic",
            "kind": "energy",
            "interval_s": self.interval_ms / 1000,
            "rails": keys,
            "domains": keys,
            "total": keys,
        }

    def check(self) -> None:
        if not any(self.powercap().glob("intel-rapl:*")):
            raise PowerUnavailable(
                f"no Intel RAPL here (no {self.powercap()}/intel-rapl:*): this CPU or kernel "
                "exposes no energy counters; use an external meter"
            )
        zones = self.find_zones()
        if not zones:
            raise PowerUnavailable(
                f"no RAPL domain matches power.domains {self.domains} "
                f"(this machine has {', '.join(self.present)}): name one of those"
            )
        if nested := nested_zones(zones):
            raise PowerUnavailable(
                f"power.domains {self.domains} selects {nested}: a sub-domain's energy is "
                "already in its parent's, and summing both counts it twice; keep one of them"
            )
        for zone in zones:
            self._check_zone(zone)

    def _check_zone(self, zone: Zone) -> None:
        counter = zone.folder / "energy_uj"
        try:
            zone.range_uj = int((zone.folder / "max_energy_range_uj").read_text().strip())
            zone.read_uj()
        except PermissionError as error:
            # root-only since 2020 (CVE-2020-8694, the PLATYPUS power side channel)
            raise PowerUnavailable(
                f"{counter} is readable only by root (CVE-2020-8694): {RAPL_READ_FIX}"
            ) from error
        except (OSError, ValueError) as error:
            raise PowerUnavailable(f"cannot read {counter} ({error}): {RAPL_READ_FIX}") from error

    def read_once(self) -> dict:
        """One sample: every domain's counter read, unwrapped, and summed."""
        t_ns, (readings, failure) = timed(self._read_counters)
        if failure:
            return {"t_ns": t_ns, "joules": None, "domains": {}, "reason": failure}
        domains = {zone.key: zone.advance(readings[zone.key]) for zone in self.zones}
        return {"t_ns": t_ns, "joules": sum(domains.values()), "domains": domains}

    def _read_counters(self) -> tuple[dict[str, int], str]:
        try:
            return {zone.key: zone.read_uj() for zone in self.find_zones()}, ""
        except (OSError, ValueError) as error:
            return {}, f"reading a RAPL counter failed: {error}"

    @classmethod
    def load_problems(cls, power: dict) -> list[str]:
        nested = nested_rapl_domains(power.get("domains", cls.default("domains")))
        if not nested:
            return []
        return [
            f"domains {', '.join(nested)} are inside package (sub-zones intel-rapl:N:M of "
            "intel-rapl:N), whose energy already includes theirs: summing both counts it "
            "twice; keep package, or name only the sub-domains"
        ]

    def start(self, emit) -> None:
        for zone in self.find_zones():
            if not zone.range_uj:
                self._check_zone(zone)
        self.poller = Poller(self.read_once, self.interval_ms / 1000, "rapl")
        self.poller.start(emit)

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
