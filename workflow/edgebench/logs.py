"""Send a job's output, native libraries' included, to its Snakemake log file."""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager


@contextmanager
def redirected_to(log_path):
    """Point file descriptors 1 and 2 at the log, so TensorFlow's C++ messages land there too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield log
        except BaseException:
            traceback.print_exc()  # into the job's log, where the user is told to look
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
