"""`python -m bench` (`make bench`): the one entry; see bench/suite.py for what it measures."""

from __future__ import annotations

import os

from bench.suite import main

os.environ.setdefault("PYTHONHASHSEED", "0")
raise SystemExit(main())
