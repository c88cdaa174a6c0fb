"""The device-side agent: runs one converted model under the timing protocol.

This package is copied to the device as-is (as `edgebench_agent/`), so it imports nothing but
the standard library, numpy and the one runtime it drives, and only relative imports within.
"""

import time

# Taken before numpy and the runtime load, so the agent's own time includes their imports.
PROCESS_STARTED_NS = time.monotonic_ns()
