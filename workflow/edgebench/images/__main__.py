"""`python -m edgebench.images daemon|stop|base`: a private Docker daemon, and the offline base
image.

    sudo .venv/bin/python -m edgebench.images daemon   # prints the DOCKER_HOST to export
    sudo .venv/bin/python -m edgebench.images base     # finds that daemon even though sudo
                                                       # drops DOCKER_HOST
    sudo .venv/bin/python -m edgebench.images stop     # stops it, removes its mounts and socket
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edgebench.images.base import DEFAULT_SUITE, DEFAULT_TAG, BaseImageError, make_base_image
from edgebench.images.daemon import (
    GROUP,
    SOCKET,
    DaemonError,
    daemon_root,
    find_host,
    group_id,
    start_daemon,
    stop_daemon,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edgebench.images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser(
        "base", help="make a local Debian base image (debootstrap + docker import), if missing"
    )
    base.add_argument("--tag", default=DEFAULT_TAG)
    base.add_argument("--suite", default=DEFAULT_SUITE)
    base.add_argument("--mirror", help="Debian mirror (default: the one this machine's apt uses)")
    cache_help = "cache folder for the daemon's data (default: ~/.cache/edgebench, of root)"
    daemon = commands.add_parser(
        "daemon",
        help=f"start a private dockerd (root) whose socket the {GROUP} group can use; "
        "print the DOCKER_HOST to export",
    )
    daemon.add_argument("--cache", type=Path, help=cache_help)
    daemon.add_argument("--socket", type=Path, default=SOCKET, help=f"default: {SOCKET}")
    stop = commands.add_parser(
        "stop", help="stop the private dockerd; remove the mounts it leaves and its socket"
    )
    stop.add_argument("--socket", type=Path, default=SOCKET, help=f"default: {SOCKET}")
    stop.add_argument("--cache", type=Path, help="the daemon with its data here instead")
    args = parser.parse_args(argv)
    try:
        if args.command == "base":
            host = find_host()  # before debootstrap: the image goes into a daemon
            if host and not os.environ.get("DOCKER_HOST"):
                print(f"using the Docker daemon at {host}", file=sys.stderr)
                os.environ["DOCKER_HOST"] = host
            make_base_image(args.tag, args.suite, args.mirror)
        elif args.command == "daemon":
            host, process = start_daemon(args.cache, args.socket)
            state = "already running" if process is None else f"started (pid {process.pid})"
            print(f"dockerd {state}, data in {daemon_root(args.cache)}", file=sys.stderr)
            if group_id() is None:
                print(
                    f"note: no '{GROUP}' group here, so only root can use the socket",
                    file=sys.stderr,
                )
            else:
                print(
                    f"users in the '{GROUP}' group can use it without root "
                    f"(`sudo usermod -aG {GROUP} $USER`, then log in again); stop it with "
                    "`sudo .venv/bin/python -m edgebench.images stop`",
                    file=sys.stderr,
                )
            print(f"export DOCKER_HOST={host}")
        else:
            where = daemon_root(args.cache) if args.cache else None
            which = f"with its data in {where}" if where else f"at {args.socket}"
            if stop_daemon(args.cache, socket=args.socket):
                print(f"stopped the dockerd {which}; removed its mounts and socket")
            else:
                print(f"no dockerd of edgebench runs {which}", file=sys.stderr)
    except (BaseImageError, DaemonError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
