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

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
