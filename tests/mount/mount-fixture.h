/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mount tests' fixture, shared by test-mount.c (the logic in-process)
 * and test-mount-helper.c (the real binaries over a socket): a fixture
 * sysfs, /dev and mount table in a temporary directory, stand-ins for
 * mount(2) and umount2(2) that record their calls, superblock images, and
 * what a TandemMounter answered. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "tandem-agent-mount.h"

/* The fixture's paths, under the temporary root (made by setup). */
extern char *root, *sysfs, *devdir, *base, *mountinfo;

/* What the stand-in system calls saw and will do. */
typedef struct {
  char *source, *target, *fstype, *data;
  unsigned long flags;
} MountCall;

extern GPtrArray *mount_calls;  /* MountCall */
extern GPtrArray *umount_calls; /* char *target; flags in umount_flags */
extern int umount_flags;
extern int mount_errno, umount_errno;

/* cmocka group setup and teardown: the whole fixture tree (disks by
 * virtio-blk, NVMe and SCSI serials, partitions, images), then removed. */
int mount_fixture_setup(void **state);
int mount_fixture_teardown(void **state);
/* Every test that mounts starts from the initial mount table. */
int fresh_mounts(void **state);

/* A file under the root, made with its folders. */
void put_text(const char *rel, const char *text);

/* Superblock images, g_malloc'ed (4096 bytes but for image()). */
guint8 *image(gsize len);
guint8 *ext_image(guint32 compat, guint32 incompat, guint32 ro);
guint8 *ext4_image(void);
guint8 *fat_image(gboolean fat32);
guint8 *mbr_image(void);

/* A disk in the fixture sysfs and /dev; takes ownership of @data. */
void disk(const char *name, const char *devnum, const char *serial_file,
          const char *serial, guint8 *data, gsize len, gboolean read_only);
/* A partition of @disk_name; takes ownership of @data. */
void partition(const char *disk_name, const char *name, guint number,
               const char *devnum, guint8 *data, gsize len);

/* The configuration for the fixture, with the stand-in system calls. */
TandemMountConfig config(void);
const MountCall *last_mount(void);
char *dev_path(const char *name);
char *mp_path(const char *label);

#define assert_has(haystack, needle)                                        \
  do {                                                                      \
    if (!strstr((haystack), (needle)))                                      \
      fail_msg("“%s” lacks “%s”", (haystack), (needle));                    \
  } while (0)

/* TandemMounter's results, as "ID STATUS MOUNTPOINT", until @want came. */
typedef struct {
  GPtrArray *results; /* "ID STATUS MOUNTPOINT" */
  guint want;
  gboolean done;
} Collected;

void collect(const TpMountResult *r, gpointer data);
