#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_partition_image, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_partition_image
short_description: Save a partition to an image file, or restore it (xsrescue disk save-partition / restore-partition)
description:
  - 'I(state=saved) runs C(xsrescue disk save-partition DISK): a whole-partition image with its sha256, never overwritten.'
  - 'I(state=restored) runs C(xsrescue disk restore-partition DISK): writes a saved image back, recorded in the journal.'
version_added: 0.1.0
author: xsrescue maintainers
options:
  state:
    description:
      - C(saved) or C(restored).
    type: str
    required: true
    choices: [saved, restored]
  disk:
    description:
      - The disk image or block device (the command argument C(DISK)).
    type: path
    required: true
  partition:
    description:
      - The partition number (C(--partition)).
    type: int
  role:
    description:
      - 'With C(saved): the XenServer partition role instead of a number (C(--role)), e.g. C(backup).'
    type: str
  output:
    description:
      - 'With C(saved): the image file to create (C(--output)); never overwritten.'
    type: path
  compress:
    description:
      - 'With C(saved): compress the image with zstd (C(--compress)).'
    type: bool
    default: false
  from:
    description:
      - 'With C(restored): the image made by save-partition (C(--from)).'
    type: path
  force:
    description:
      - 'With C(restored): restore even onto another partition number, start or role (C(--force)).'
    type: bool
    default: false
extends_documentation_fragment:
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Image the backup partition before any installer run
  xsrescue.rescue.xsrescue_partition_image:
    state: saved
    disk: /dev/sda
    role: backup
    output: /mnt/rescue/{{ inventory_hostname }}-backup.img
'''

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
