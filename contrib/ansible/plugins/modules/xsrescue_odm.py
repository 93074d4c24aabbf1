#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_odm, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_odm
short_description: Purge ghost AIX device majors (xsrescue odm purge)
description:
  - Runs C(xsrescue odm purge) on odmget dumps and the AIX root dev directory.
version_added: 0.1.0
author: xsrescue maintainers
options:
  odm:
    description:
      - Directory of odmget dumps (C(--odm)); CuDvDr is required.
    type: path
    required: true
  dev:
    description:
      - The AIX root's dev directory (C(--dev)).
    type: path
  major:
    description:
      - Purge these majors (C(--major), repeated); each must be a ghost.
    type: list
    elements: str
  all_ghosts:
    description:
      - Purge every major whose verdict is ghost (C(--all-ghosts)).
    type: bool
    default: false
  out:
    description:
      - Directory for the .add files and AIX scripts (C(--out)); empty, or new with an existing parent.
    type: path
    required: true
extends_documentation_fragment:
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Purge every ghost major
  xsrescue.rescue.xsrescue_odm:
    odm: /mnt/aix/odm
    dev: /mnt/aix/dev
    all_ghosts: true
    journal: /mnt/rescue/aix1.db
'''

RETURN = r'''
changed:
  description: Whether the task changed something (in check mode, whether it would).
  returned: always
  type: bool
msg:
  description: What happened, or the error xsrescue reported.
  returned: always
  type: str
rc:
  description: xsrescue's exit status (0; 1 failed; 2 invalid input; 3 refused; 4 problems remain).
  returned: always
  type: int
cmd:
  description: The xsrescue command line the module ran (in-process).
  returned: when a command ran
  type: list
  elements: str
op:
  description: The op applied (the last one when several), as in the command's JSON document.
  returned: always
  type: dict
ops:
  description: Every op applied, in apply order.
  returned: always
  type: list
  elements: dict
undo:
  description:
    - The command lines (argv lists) that undo what the task applied, in the order
      to run them (newest op first). Empty in check mode and when nothing changed.
  returned: always
  type: list
  elements: list
  sample: [["xsrescue", "journal", "undo", "1", "--disk", "/dev/sda", "--partition", "1", "--journal", "/mnt/rescue/host1.db"]]
stderr:
  description: xsrescue's log lines.
  returned: always
  type: str
document:
  description: The command's JSON document, as C(xsrescue ... --json) prints it.
  returned: when the command printed one
  type: dict
'''
