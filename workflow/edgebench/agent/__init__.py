"""The device-side agent: runs one converted model under the timing protocol.

This package is copied to the device as-is (as `edgebench_agent/`), so it imports nothing but
the standard library, numpy and the one runtime it drives, and only relative imports within.
"""

FORMAT_VERSION = 1
