#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_statedb, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_statedb
short_description: Patch the xapi database so an older xapi loads it (xsrescue statedb patch)
description:
  - 'Runs C(xsrescue statedb patch): rewrites the state.db xapi loads to the schema of the target release, through the journal.'
version_added: 0.1.0
author: xsrescue maintainers
options:
  database:
    description:
      - A state.db file to patch in place (the command argument C(FILE)), instead of I(root) or I(disk).
    type: path
  like:
    description:
      - A database written by the target xapi (C(--like)), gzip accepted.
    type: path
  to_release:
    description:
      - The target release (C(--to-release)), e.g. C(5.0), C(george).
    type: str
  to_schema:
    description:
      - The target schema (C(--to-schema)), e.g. C(5.55).
    type: str
  drop_data:
    description:
      - Allow dropping tables with rows and columns with values (C(--drop-data)).
    type: bool
    default: false
  set_aside:
    description:
      - Rename the other files xapi would load instead (C(--set-aside)).
    type: bool
    default: false
  file:
    description:
      - Patch this path inside the root instead of the file xapi loads (C(--file)).
    type: str
  output:
    description:
      - Write the patched database to this new file instead of in place (C(--output)).
    type: path
  max_size:
    description:
      - Refuse a database larger than this after gzip (C(--max-size)), e.g. C(4GiB).
    type: str
extends_documentation_fragment:
  - xsrescue.rescue.target
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Patch state.db for xapi of XenServer 5.0
  xsrescue.rescue.xsrescue_statedb:
    disk: /dev/sda
    like: /mnt/rescue/reference-5.0.0-schema55.db
    drop_data: true
    journal: /mnt/rescue/{{ inventory_hostname }}.db
'''

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
