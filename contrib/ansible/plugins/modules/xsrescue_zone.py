#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_zone, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_zone
short_description: Repair a Solaris zone root (xsrescue zone unset-publisher / set-sticky / restore-etc)
description:
  - Runs the C(xsrescue zone) command named by I(command) on a zone root.
version_added: 0.1.0
author: xsrescue maintainers
options:
  command:
    description:
      - The zone command to run.
    type: str
    required: true
    choices: [unset-publisher, set-sticky, restore-etc]
  name:
    description:
      - 'With C(unset-publisher) and C(set-sticky): the publisher NAME (the command argument).'
    type: str
  sticky:
    description:
      - 'With C(set-sticky): the value to set.'
    type: bool
  zone_root:
    description:
      - The zone's root directory, zonepath/root (C(--zone-root)).
    type: path
    required: true
  force:
    description:
      - Edit an image that is not a non-global zone image (C(--force)).
    type: bool
    default: false
  snapshot:
    description:
      - 'With C(restore-etc): the snapshot C(DATASET@SNAP) to restore from (C(--snapshot)).'
    type: str
  paths:
    description:
      - 'With C(restore-etc): paths below the zone root to restore (C(--paths)); default C(etc).'
    type: list
    elements: str
extends_documentation_fragment:
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Drop the OpenSolaris publisher from the zone image
  xsrescue.rescue.xsrescue_zone:
    command: unset-publisher
    name: opensolaris.org
    zone_root: /zones/z1/root
'''

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
