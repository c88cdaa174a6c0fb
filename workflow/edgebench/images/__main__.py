"""`python -m edgebench.images base|daemon`: the offline base image, a private Docker daemon."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgebench.images.base import DEFAULT_SUITE, DEFAULT_TAG, BaseImageError, make_base_image
from edgebench.images.daemon import DaemonError, cache_dir, start_daemon


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgebench.images", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser(
        "base", help="make a local Debian base image (debootstrap + docker import), if missing"
    )
    base.add_argument("--tag", default=DEFAULT_TAG)
    base.add_argument("--suite", default=DEFAULT_SUITE)
    base.add_argument("--mirror", help="Debian mirror (default: the one this machine's apt uses)")
    daemon = commands.add_parser(
        "daemon", help="start a private dockerd under the cache folder (root), print DOCKER_HOST"
    )
    daemon.add_argument("--cache", type=Path, help="cache folder (default: ~/.cache/edgebench)")
    args = parser.parse_args(argv)
    try:
        if args.command == "base":
            make_base_image(args.tag, args.suite, args.mirror)
        else:
            host, _ = start_daemon(args.cache or cache_dir())
            print(f"export DOCKER_HOST={host}")
    except (BaseImageError, DaemonError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
