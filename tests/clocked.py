"""`python -m tests.clocked SECONDS ARGS...`: the `shixian` CLI with its clock SECONDS away from the host's,
so a CLI a test starts agrees with the test's time-skipping server (or pinned day) about today."""

from __future__ import annotations

import datetime as dt
import sys

from domain import shanghai

if __name__ == "__main__":
    shanghai.set_offset(dt.timedelta(seconds=float(sys.argv[1])))
    sys.argv = ["shixian", *sys.argv[2:]]
    from app.cli import main

    sys.exit(main())
