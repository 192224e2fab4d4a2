"""Test-wide set-up that must happen before python-telegram-bot is imported anywhere."""

from __future__ import annotations

import os

# PTB 22 warns (PTBDeprecationWarning) while *constructing* RetryAfter unless durations are
# opted in to `timedelta`; with `filterwarnings = error` that warning would replace the
# RetryAfter and break every 429 retry. The bot opts in the same way in `run_bot`.
os.environ.setdefault("PTB_TIMEDELTA", "1")
