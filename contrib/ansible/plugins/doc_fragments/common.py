# -*- coding: utf-8 -*-
# Documentation only: the options every mutating xsrescue module shares (the
# global --journal and --wait flags, with underscores) and how a module runs.


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  journal:
    description:
      - The journal database (C(--journal)); default C(var/lib/xsrescue/journal.db)
        inside the target root. On a fleet, keep it on durable storage outside the
        disk being repaired (see the collection README).
    type: path
  wait:
    description:
      - How long to wait for another xsrescue changing the same target before
        refusing (C(--wait)), e.g. C(30s).
    type: str
notes:
  - The module is the static xsrescue binary (a binary module); the host needs no
    Python. It runs the xsrescue command of the same flags in-process, as
    C(--json --yes), or C(--json --dry-run) in check mode (nothing is written, not
    even the journal). Diff mode returns every planned change as a diff.
  - C(rc) is xsrescue's exit status; 2 invalid input, 3 refused for safety
    (nothing changed), 4 completed with problems remaining. Every non-zero status
    fails the task; accept 4 with C(failed_when) on C(rc).
'''
