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
  output:
    description:
      - Directory for the .add files and AIX scripts (C(--output)); empty, or new with an existing parent.
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

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
