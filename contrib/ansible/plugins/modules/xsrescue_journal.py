#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_journal, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_journal
short_description: Undo an op, or finish or roll back an interrupted one (xsrescue journal undo / recover)
description:
  - 'I(state=undone) runs C(xsrescue journal undo OP): restores the before-images of the op; refused (rc 3) when a file changed since, unless I(force).'
  - 'I(state=recovered) runs C(xsrescue journal recover): finishes or rolls back an op a crash interrupted.'
version_added: 0.1.0
author: xsrescue maintainers
options:
  state:
    description:
      - C(undone) or C(recovered).
    type: str
    required: true
    choices: [undone, recovered]
  op:
    description:
      - 'With C(undone): the op number (the command argument C(OP)).'
    type: int
  force:
    description:
      - Restore even files that changed since the op (C(--force)).
    type: bool
    default: false
extends_documentation_fragment:
  - xsrescue.rescue.target
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Undo op 1
  xsrescue.rescue.xsrescue_journal:
    state: undone
    op: 1
    disk: /dev/sda
    journal: /mnt/rescue/{{ inventory_hostname }}.db
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
