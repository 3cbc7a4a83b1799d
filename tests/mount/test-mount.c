/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mounting attached disks by serial (guest-agent/mount), without root and
 * without a VM: a fixture sysfs and /dev, a fixture mount table, stand-ins
 * for mount(2) and umount2(2) (mount-fixture.c), superblocks written by
 * hand (and by mke2fs when it is installed), the helper's line protocol,
 * and TandemMounter in-process. test-mount-helper.c runs the real binaries
 * over a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount-fixture.h"
#include "tandem-agent-mount.h"
#include "test-wait.h"

/* --- Validation ---------------------------------------------------------- */

static void test_validation(void **state) {
  const char *good_labels[] = {"data", "My_Disk-1.0", "a", "..a", ".hidden",
                               NULL};
  for (int i = 0; good_labels[i]; i++)
    assert_true(tandem_mount_label_is_valid(good_labels[i]));
  const char *bad_labels[] = {"", ".", "..", "../etc", "a/b", "/abs",
                              "a b", "tab\t", "é", "a+b", "a@b", "x\n", NULL};
  for (int i = 0; bad_labels[i]; i++)
    if (tandem_mount_label_is_valid(bad_labels[i]))
      fail_msg("label “%s” was accepted", bad_labels[i]);
  assert_false(tandem_mount_label_is_valid(NULL));
  char long_label[66];
  memset(long_label, 'x', 65);
  long_label[65] = '\0';
  assert_false(tandem_mount_label_is_valid(long_label));
  long_label[64] = '\0';
  assert_true(tandem_mount_label_is_valid(long_label));

  const char *good_serials[] = {"tandem-data", "QM00001", "a+b@c.d_e", NULL};
  for (int i = 0; good_serials[i]; i++)
    assert_true(tandem_mount_serial_is_valid(good_serials[i]));
  const char *bad_serials[] = {"", "a b", "../x", "a/b", "x\n", "ü", NULL};
  for (int i = 0; bad_serials[i]; i++)
    if (tandem_mount_serial_is_valid(bad_serials[i]))
      fail_msg("serial “%s” was accepted", bad_serials[i]);
  assert_true(tandem_mount_serial_is_valid(long_label)); /* 64 */
  long_label[64] = 'x';
  assert_false(tandem_mount_serial_is_valid(long_label)); /* 65 */
  assert_false(tandem_mount_serial_is_valid(NULL));
}

/* --- Finding disks ------------------------------------------------------- */

static void test_find_device(void **state) {
  struct {
    const char *serial, *device;
  } cases[] = {
      {"tandem-data", "/dev/vda"}, /* virtio-blk */
      {"plain", "/dev/vdb"},
      {"nvme-serial", "/dev/nvme0n1"}, /* padded controller serial */
      {"SCSI-123", "/dev/sda"},        /* VPD page 0x80 */
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *dev =
        tandem_mount_find_device(sysfs, cases[i].serial, &error);
    if (!dev)
      fail_msg("%s: %s", cases[i].serial, error->message);
    assert_string_equal(dev, cases[i].device);
  }
  g_autofree char *name = tandem_mount_find_disk(sysfs, "plain", NULL);
  assert_string_equal(name, "vdb");
}

static void test_find_device_errors(void **state) {
  g_autoptr(GError) error = NULL;
  assert_null(tandem_mount_find_device(sysfs, "no-such-disk", &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  assert_has(error->message, "no-such-disk");
  g_clear_error(&error);

  /* Serials are compared whole, after trimming only. */
  assert_null(tandem_mount_find_device(sysfs, "nvme", &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error(&error);
  assert_null(tandem_mount_find_device(sysfs, "hidden-path", &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error(&error);

  assert_null(tandem_mount_find_device(sysfs, "shared-ctrl", &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS));
  assert_has(error->message, "nvme1n1, nvme1n2");
  g_clear_error(&error);

  const char *invalid[] = {"", "../block/vda", "a b", "x/serial", NULL};
  for (int i = 0; invalid[i]; i++) {
    assert_null(tandem_mount_find_device(sysfs, invalid[i], &error));
    assert_true(
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
  }
  assert_null(tandem_mount_find_device(sysfs, NULL, &error));
  g_clear_error(&error);

  g_autofree char *nowhere = g_build_filename(root, "nonexistent", NULL);
  assert_null(tandem_mount_find_device(nowhere, "plain", &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
}

/* --- Superblocks --------------------------------------------------------- */

static TandemFsType probe(guint8 *d, gsize len) {
  TandemFsType t = tandem_mount_probe_bytes(d, len);
  g_free(d);
  return t;
}

static void test_probe_handmade(void **state) {
  assert_int_equal(probe(ext_image(0, 0x2, 0x3), 4096), TANDEM_FS_EXT2);
  assert_int_equal(probe(ext_image(0x4, 0x2, 0x3), 4096), TANDEM_FS_EXT3);
  assert_int_equal(probe(ext4_image(), 4096), TANDEM_FS_EXT4);
  /* ext4 by a read-only-compatible feature alone (metadata_csum). */
  assert_int_equal(probe(ext_image(0x4, 0x2, 0x400), 4096), TANDEM_FS_EXT4);
  assert_int_equal(probe(ext_image(0, 0x8, 0), 4096), TANDEM_FS_EXT_JOURNAL);
  assert_int_equal(probe(fat_image(FALSE), 4096), TANDEM_FS_VFAT);
  assert_int_equal(probe(fat_image(TRUE), 4096), TANDEM_FS_VFAT);

  guint8 *d = fat_image(FALSE);
  d[11] = 0x33; /* a BPB with a nonsense sector size is no FAT */
  assert_int_equal(probe(d, 4096), TANDEM_FS_UNKNOWN);
  d = fat_image(FALSE);
  memcpy(d + 3, "EXFAT   ", 8);
  assert_int_equal(probe(d, 4096), TANDEM_FS_EXFAT);
  d = fat_image(FALSE);
  memcpy(d + 3, "NTFS    ", 8);
  assert_int_equal(probe(d, 4096), TANDEM_FS_NTFS);

  d = image(4096);
  memcpy(d, "XFSB", 4);
  assert_int_equal(probe(d, 4096), TANDEM_FS_XFS);
  d = image(TANDEM_MOUNT_PROBE_BYTES);
  memcpy(d + 0x10040, "_BHRfS_M", 8);
  assert_int_equal(probe(d, TANDEM_MOUNT_PROBE_BYTES), TANDEM_FS_BTRFS);
  /* Too short to hold the btrfs superblock: not looked at. */
  d = image(TANDEM_MOUNT_PROBE_BYTES);
  memcpy(d + 0x10040, "_BHRfS_M", 8);
  assert_int_equal(probe(d, 0x10044), TANDEM_FS_UNKNOWN);
  d = image(0x8800);
  memcpy(d + 0x8001, "CD001", 5);
  assert_int_equal(probe(d, 0x8800), TANDEM_FS_ISO9660);
  d = image(4096);
  memcpy(d + 4086, "SWAPSPACE2", 10);
  assert_int_equal(probe(d, 4096), TANDEM_FS_SWAP);

  /* Nothing, or too little to tell. */
  assert_int_equal(probe(image(65536), 65536), TANDEM_FS_UNKNOWN);
  assert_int_equal(probe(ext4_image(), 1081), TANDEM_FS_UNKNOWN);
  assert_int_equal(tandem_mount_probe_bytes(NULL, 0), TANDEM_FS_UNKNOWN);

  /* A bare MBR is a partition table, not a file system. */
  d = mbr_image();
  assert_int_equal(tandem_mount_probe_bytes(d, 4096), TANDEM_FS_UNKNOWN);
  assert_true(tandem_mount_bytes_have_partition_table(d, 4096));
  g_free(d);
  d = image(4096);
  memcpy(d + 512, "EFI PART", 8);
  assert_true(tandem_mount_bytes_have_partition_table(d, 4096));
  assert_false(tandem_mount_bytes_have_partition_table(d, 100));
  g_free(d);

  assert_string_equal(tandem_fs_type_kernel_name(TANDEM_FS_EXT2), "ext4");
  assert_string_equal(tandem_fs_type_kernel_name(TANDEM_FS_NTFS), "ntfs3");
  assert_null(tandem_fs_type_kernel_name(TANDEM_FS_SWAP));
  assert_null(tandem_fs_type_kernel_name(TANDEM_FS_UNKNOWN));
  assert_string_equal(tandem_fs_type_to_string(TANDEM_FS_EXT3), "ext3");
}

/* Images made by the real formatters, where they are installed. */
static void test_probe_mkfs(void **state) {
  g_autofree char *mke2fs = g_find_program_in_path("mke2fs");
  if (!mke2fs) {
    g_autofree char *sbin = g_strdup("/sbin/mke2fs");
    if (g_file_test(sbin, G_FILE_TEST_IS_EXECUTABLE))
      mke2fs = g_steal_pointer(&sbin);
  }
  if (!mke2fs)
    skip();
  struct {
    const char *type;
    TandemFsType want;
  } cases[] = {
      {"ext2", TANDEM_FS_EXT2},
      {"ext3", TANDEM_FS_EXT3},
      {"ext4", TANDEM_FS_EXT4},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *img = g_build_filename(root, "mkfs.img", NULL);
    int fd = open(img, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 8 << 20), 0);
    close(fd);
    const char *argv[] = {mke2fs, "-q", "-F", "-t", cases[i].type, img, NULL};
    int status = -1;
    g_autofree char *err = NULL;
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                             G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                             &err, &status, NULL));
    if (!g_spawn_check_wait_status(status, NULL))
      fail_msg("mke2fs -t %s failed: %s", cases[i].type, err);
    g_autoptr(GError) error = NULL;
    TandemFsType t = tandem_mount_probe_file(img, &error);
    assert_null(error);
    if (t != cases[i].want)
      fail_msg("mke2fs -t %s probed as %s", cases[i].type,
               tandem_fs_type_to_string(t));
    g_unlink(img);
  }
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename(root, "missing.img", NULL);
  assert_int_equal(tandem_mount_probe_file(missing, &error),
                   TANDEM_FS_UNKNOWN);
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
}

/* --- Mounting ------------------------------------------------------------ */

static void test_mount_partition(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  g_autoptr(TandemMountResult) r =
      tandem_mount_do_mount(&c, "tandem-data", "data", FALSE);
  g_autofree char *mp = mp_path("data");
  g_autofree char *vda2 = dev_path("vda2");
  assert_int_equal(r->status, TP_MOUNT_OK);
  assert_string_equal(r->mountpoint, mp);
  assert_has(r->message, "partition 2");
  assert_has(r->message, "ext4");
  assert_has(r->message, "read-write");
  /* What the host shows: the type as mounted and statvfs's sizes (here of
   * the fixture's directory). */
  assert_string_equal(r->fs_type, "ext4");
  assert_true(r->total_bytes > 0);
  assert_true(r->free_bytes <= r->total_bytes);
  assert_int_equal(mount_calls->len, 1);
  const MountCall *m = last_mount();
  /* Partition 1 is swap: the first partition with a file system wins, and
   * 10 comes after 2. */
  assert_string_equal(m->source, vda2);
  assert_string_equal(m->target, mp);
  assert_string_equal(m->fstype, "ext4");
  assert_null(m->data);
  assert_int_equal(m->flags, MS_NOSUID | MS_NODEV);
  assert_true(g_file_test(mp, G_FILE_TEST_IS_DIR));
  struct stat st;
  assert_int_equal(stat(base, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0755);

  /* Asking again: already there, no second mount. */
  g_autoptr(TandemMountResult) again =
      tandem_mount_do_mount(&c, "tandem-data", "data", FALSE);
  assert_int_equal(again->status, TP_MOUNT_OK);
  assert_string_equal(again->mountpoint, mp);
  assert_has(again->message, "already mounted");
  assert_string_equal(again->fs_type, "ext4");
  assert_true(again->total_bytes > 0);
  assert_int_equal(mount_calls->len, 1);

  /* The same disk under another label: refused, it says where it is. */
  g_autoptr(TandemMountResult) other =
      tandem_mount_do_mount(&c, "tandem-data", "other", FALSE);
  assert_int_equal(other->status, TP_MOUNT_FAILED);
  assert_string_equal(other->mountpoint, "");
  assert_string_equal(other->fs_type, "");
  assert_int_equal(other->total_bytes, 0);
  assert_has(other->message, mp);
  /* Another disk under the taken label: refused. */
  g_autoptr(TandemMountResult) taken =
      tandem_mount_do_mount(&c, "plain", "data", FALSE);
  assert_int_equal(taken->status, TP_MOUNT_FAILED);
  assert_has(taken->message, "label data is taken");
  assert_int_equal(mount_calls->len, 1);
}

static void test_mount_fat_read_only(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  c.owner_uid = 1000;
  c.owner_gid = 1001;
  g_autoptr(TandemMountResult) r =
      tandem_mount_do_mount(&c, "plain", "usb", TRUE);
  assert_int_equal(r->status, TP_MOUNT_OK);
  assert_has(r->message, "read-only");
  const MountCall *m = last_mount();
  g_autofree char *vdb = dev_path("vdb");
  assert_string_equal(m->source, vdb);
  assert_string_equal(m->fstype, "vfat");
  assert_string_equal(r->fs_type, "vfat");
  assert_true(r->total_bytes > 0);
  assert_string_equal(m->data, "uid=1000,gid=1001,umask=022");
  assert_int_equal(m->flags, MS_NOSUID | MS_NODEV | MS_RDONLY);

  /* NVMe and SCSI disks, whole-disk XFS and Btrfs. */
  g_autoptr(TandemMountResult) x =
      tandem_mount_do_mount(&c, "nvme-serial", "fast", FALSE);
  assert_int_equal(x->status, TP_MOUNT_OK);
  assert_string_equal(last_mount()->fstype, "xfs");
  g_autoptr(TandemMountResult) b =
      tandem_mount_do_mount(&c, "SCSI-123", "scsi", FALSE);
  assert_int_equal(b->status, TP_MOUNT_OK);
  assert_string_equal(last_mount()->fstype, "btrfs");
  assert_null(last_mount()->data);
}

static void test_mount_refusals(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  struct {
    const char *serial, *label;
    gboolean ro;
    TpMountStatus status;
    const char *says;
  } cases[] = {
      {"tandem-data", "../escape", FALSE, TP_MOUNT_FAILED, "cannot be a"},
      {"tandem-data", "a/b", FALSE, TP_MOUNT_FAILED, "cannot be a"},
      {"tandem-data", "..", FALSE, TP_MOUNT_FAILED, "cannot be a"},
      {"tandem-data", ".", FALSE, TP_MOUNT_FAILED, "cannot be a"},
      {"tandem-data", "", FALSE, TP_MOUNT_FAILED, "cannot be a"},
      {"no-such-disk", "x", FALSE, TP_MOUNT_NOT_FOUND, "Attach it first"},
      {"../vda", "x", FALSE, TP_MOUNT_FAILED, "not a disk serial"},
      {"shared-ctrl", "x", FALSE, TP_MOUNT_FAILED, "several disks"},
      {"blank", "x", FALSE, TP_MOUNT_NO_FILESYSTEM, "Nothing was changed"},
      {"ptable-only", "x", FALSE, TP_MOUNT_NO_FILESYSTEM, "partition table"},
      {"rodisk", "x", FALSE, TP_MOUNT_FAILED, "mount it read-only"},
      {"cdrom", "x", FALSE, TP_MOUNT_FAILED, "mount it read-only"},
      {"home", "x", FALSE, TP_MOUNT_FAILED, "already mounted on /home/user"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(TandemMountResult) r = tandem_mount_do_mount(
        &c, cases[i].serial, cases[i].label, cases[i].ro);
    if (r->status != cases[i].status || !strstr(r->message, cases[i].says))
      fail_msg("mount %s %s: %s: %s (wanted %s, “%s”)", cases[i].serial,
               cases[i].label, tandem_mount_status_to_string(r->status),
               r->message, tandem_mount_status_to_string(cases[i].status),
               cases[i].says);
    assert_string_equal(r->mountpoint, "");
    assert_string_equal(r->fs_type, "");
    assert_int_equal(r->total_bytes, 0);
  }
  assert_int_equal(mount_calls->len, 0);
  /* Nothing was made outside the base, nor left inside it. */
  g_autofree char *escape = g_build_filename(root, "media", "escape", NULL);
  assert_false(g_file_test(escape, G_FILE_TEST_EXISTS));
  g_autoptr(GPtrArray) left = g_ptr_array_new();
  GDir *d = g_dir_open(base, 0, NULL);
  while (d && g_dir_read_name(d))
    g_ptr_array_add(left, NULL);
  if (d)
    g_dir_close(d);
  assert_int_equal(left->len, 0);

  /* The read-only disk and the CD image mount read-only. */
  g_autoptr(TandemMountResult) ro =
      tandem_mount_do_mount(&c, "rodisk", "ro", TRUE);
  assert_int_equal(ro->status, TP_MOUNT_OK);
  g_autoptr(TandemMountResult) cd =
      tandem_mount_do_mount(&c, "cdrom", "cd", TRUE);
  assert_int_equal(cd->status, TP_MOUNT_OK);
  assert_string_equal(last_mount()->fstype, "iso9660");

  /* A non-empty directory in the way is not mounted over. */
  g_autofree char *full = g_build_filename(base, "full", "file", NULL);
  put_text("media/tandem/full/file", "x");
  g_autoptr(TandemMountResult) busy_dir =
      tandem_mount_do_mount(&c, "plain", "full", FALSE);
  assert_int_equal(busy_dir->status, TP_MOUNT_FAILED);
  assert_has(busy_dir->message, "choose another label");
  assert_true(g_file_test(full, G_FILE_TEST_EXISTS));
  /* An empty one left over from before is reused. */
  g_autofree char *stale = mp_path("stale");
  assert_int_equal(g_mkdir(stale, 0700), 0);
  g_autoptr(TandemMountResult) reuse =
      tandem_mount_do_mount(&c, "plain", "stale", FALSE);
  assert_int_equal(reuse->status, TP_MOUNT_OK);
}

static void test_mount_errors(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  struct {
    int err;
    TpMountStatus status;
    const char *says;
  } cases[] = {
      {ENODEV, TP_MOUNT_FAILED, "no driver"},
      {EPERM, TP_MOUNT_FAILED, "tandem-mount-helper"},
      {EROFS, TP_MOUNT_FAILED, "mount it read-only"},
      {EUCLEAN, TP_MOUNT_FAILED, "fsck"},
      {EBUSY, TP_MOUNT_BUSY, "in use"},
      {ENOMEM, TP_MOUNT_FAILED, "Cannot mount"},
  };
  g_autofree char *mp = mp_path("data");
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    mount_errno = cases[i].err;
    g_autoptr(TandemMountResult) r =
        tandem_mount_do_mount(&c, "tandem-data", "data", FALSE);
    if (r->status != cases[i].status || !strstr(r->message, cases[i].says))
      fail_msg("errno %d: %s: %s", cases[i].err,
               tandem_mount_status_to_string(r->status), r->message);
    assert_string_equal(r->mountpoint, "");
    /* The mount point made for it is gone again. */
    assert_false(g_file_test(mp, G_FILE_TEST_EXISTS));
  }
  mount_errno = 0;

  /* A base that others may write to is not used. */
  c.base_dir = root; /* still 0700: fine */
  g_autoptr(TandemMountResult) ok = tandem_mount_do_mount(&c, "plain", "p",
                                                          FALSE);
  assert_int_equal(ok->status, TP_MOUNT_OK);
  g_autofree char *open_dir = g_build_filename(root, "open", NULL);
  assert_int_equal(g_mkdir(open_dir, 0700), 0);
  assert_int_equal(chmod(open_dir, 0777), 0);
  c.base_dir = open_dir;
  g_autoptr(TandemMountResult) r =
      tandem_mount_do_mount(&c, "nvme-serial", "n", FALSE);
  assert_int_equal(r->status, TP_MOUNT_FAILED);
  assert_has(r->message, "only it can write");
  c.base_dir = "relative/base";
  g_autoptr(TandemMountResult) rel =
      tandem_mount_do_mount(&c, "nvme-serial", "n", FALSE);
  assert_int_equal(rel->status, TP_MOUNT_FAILED);
  assert_has(rel->message, "not an absolute path");

  c = config();
  c.mountinfo = "/nonexistent/mountinfo";
  g_autoptr(TandemMountResult) noinfo =
      tandem_mount_do_mount(&c, "tandem-data", "data", FALSE);
  assert_int_equal(noinfo->status, TP_MOUNT_FAILED);
  assert_has(noinfo->message, "mount table");
}

/* As root, the empty top directory of a new writable file system is given
 * to the session user; with anything in it, it is left alone. */
static void test_mount_fresh_owner(void **state) {
  if (geteuid() != 0)
    skip();
  fresh_mounts(state);
  TandemMountConfig c = config();
  c.owner_uid = 4321;
  c.owner_gid = 4322;
  g_autoptr(TandemMountResult) r =
      tandem_mount_do_mount(&c, "tandem-data", "fresh", FALSE);
  assert_int_equal(r->status, TP_MOUNT_OK);
  assert_has(r->message, "belongs to the session user");
  struct stat st;
  assert_int_equal(stat(r->mountpoint, &st), 0);
  assert_int_equal(st.st_uid, 4321);
  assert_int_equal(st.st_gid, 4322);

  /* Read-only, or FAT (owner by option): never chowned. */
  g_autoptr(TandemMountResult) ro =
      tandem_mount_do_mount(&c, "nvme-serial", "ro", TRUE);
  assert_int_equal(stat(ro->mountpoint, &st), 0);
  assert_int_equal(st.st_uid, 0);
  g_autoptr(TandemMountResult) fat =
      tandem_mount_do_mount(&c, "plain", "fat", FALSE);
  assert_int_equal(stat(fat->mountpoint, &st), 0);
  assert_int_equal(st.st_uid, 0);
}

/* --- Unmounting ---------------------------------------------------------- */

static void test_unmount(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  c.proc_root = "/proc";
  g_autoptr(TandemMountResult) m =
      tandem_mount_do_mount(&c, "tandem-data", "data", FALSE);
  assert_int_equal(m->status, TP_MOUNT_OK);

  /* Busy: this process has the directory open. Nothing is detached. */
  int fd = open(m->mountpoint, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  umount_errno = EBUSY;
  g_autoptr(TandemMountResult) busy =
      tandem_mount_do_unmount(&c, "tandem-data", FALSE);
  assert_int_equal(busy->status, TP_MOUNT_BUSY);
  g_autofree char *me = g_strdup_printf("(pid %d)", (int)getpid());
  assert_has(busy->message, me);
  assert_has(busy->message, "in use by: ");
  assert_has(busy->message, "Close the files");
  assert_has(busy->message, "Nothing was detached");
  assert_int_equal(umount_flags, 0);
  assert_true(g_file_test(m->mountpoint, G_FILE_TEST_IS_DIR));
  close(fd);

  umount_errno = 0;
  g_autoptr(TandemMountResult) u =
      tandem_mount_do_unmount(&c, "tandem-data", FALSE);
  assert_int_equal(u->status, TP_MOUNT_OK);
  assert_string_equal(u->mountpoint, m->mountpoint);
  assert_has(u->message, "can be detached");
  assert_string_equal(umount_calls->pdata[umount_calls->len - 1],
                      m->mountpoint);
  assert_false(g_file_test(m->mountpoint, G_FILE_TEST_EXISTS));

  /* Again: nothing is mounted, which is fine for the host. */
  guint calls = umount_calls->len;
  g_autoptr(TandemMountResult) again =
      tandem_mount_do_unmount(&c, "tandem-data", FALSE);
  assert_int_equal(again->status, TP_MOUNT_OK);
  assert_has(again->message, "not mounted");
  assert_int_equal(umount_calls->len, calls);

  /* The system's own mount is not ours to take away. */
  g_autoptr(TandemMountResult) home = tandem_mount_do_unmount(&c, "home",
                                                              FALSE);
  assert_int_equal(home->status, TP_MOUNT_FAILED);
  assert_has(home->message, "/home/user");
  assert_has(home->message, "not by Tandem");
  assert_int_equal(umount_calls->len, calls);

  g_autoptr(TandemMountResult) missing =
      tandem_mount_do_unmount(&c, "no-such-disk", FALSE);
  assert_int_equal(missing->status, TP_MOUNT_NOT_FOUND);
  g_autoptr(TandemMountResult) bad = tandem_mount_do_unmount(&c, "a/b", FALSE);
  assert_int_equal(bad->status, TP_MOUNT_FAILED);

  /* Lazy, when asked; and other errors. */
  g_autoptr(TandemMountResult) m2 =
      tandem_mount_do_mount(&c, "plain", "usb", FALSE);
  assert_int_equal(m2->status, TP_MOUNT_OK);
  umount_errno = EINVAL;
  g_autoptr(TandemMountResult) inval =
      tandem_mount_do_unmount(&c, "plain", FALSE);
  assert_int_equal(inval->status, TP_MOUNT_FAILED);
  assert_has(inval->message, "Cannot unmount");
  umount_errno = 0;
  g_autoptr(TandemMountResult) lazy = tandem_mount_do_unmount(&c, "plain",
                                                              TRUE);
  assert_int_equal(lazy->status, TP_MOUNT_OK);
  assert_int_equal(umount_flags, MNT_DETACH);
  assert_has(lazy->message, "Synced");
  assert_has(lazy->message, "lazily; no program was using it");
  assert_string_equal(lazy->fs_type, "");

  /* Forced while busy: synced, detached lazily, and it says who still
   * uses it. */
  g_autoptr(TandemMountResult) m3 =
      tandem_mount_do_mount(&c, "plain", "usb", FALSE);
  assert_int_equal(m3->status, TP_MOUNT_OK);
  fd = open(m3->mountpoint, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  g_autoptr(TandemMountResult) forced =
      tandem_mount_do_unmount(&c, "plain", TRUE);
  close(fd);
  assert_int_equal(forced->status, TP_MOUNT_OK);
  assert_int_equal(umount_flags, MNT_DETACH);
  assert_has(forced->message, "Synced");
  assert_has(forced->message, "lazily although");
  assert_has(forced->message, me);
}

/* The agent's flush before an unmount: every mount of the disk. */
static void test_sync_disk(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  assert_int_equal(tandem_mount_sync_disk(&c, "tandem-data"), 0);
  g_autoptr(TandemMountResult) m =
      tandem_mount_do_mount(&c, "tandem-data", "data", FALSE);
  assert_int_equal(m->status, TP_MOUNT_OK);
  assert_int_equal(tandem_mount_sync_disk(&c, "tandem-data"), 1);
  assert_int_equal(tandem_mount_sync_disk(&c, "no-such-disk"), 0);
  assert_int_equal(tandem_mount_sync_disk(&c, "../x"), 0);
}

static void test_find_users(void **state) {
  g_autofree char *dir = g_build_filename(root, "inuse", NULL);
  g_autofree char *file = g_build_filename(dir, "f", NULL);
  put_text("inuse/f", "x");
  g_auto(GStrv) none = tandem_mount_find_users("/proc", dir, 5);
  g_autofree char *me = g_strdup_printf("(pid %d)", (int)getpid());
  for (char **u = none; *u; u++)
    assert_null(strstr(*u, me));
  int fd = open(file, O_RDONLY);
  assert_true(fd >= 0);
  g_auto(GStrv) users = tandem_mount_find_users("/proc", dir, 5);
  close(fd);
  gboolean found = FALSE;
  for (char **u = users; *u; u++)
    found |= strstr(*u, me) != NULL;
  assert_true(found);
  /* A sibling whose name starts the same is not inside. */
  g_autofree char *prefix = g_build_filename(root, "inu", NULL);
  fd = open(file, O_RDONLY);
  g_auto(GStrv) sib = tandem_mount_find_users("/proc", prefix, 5);
  close(fd);
  for (char **u = sib; *u; u++)
    assert_null(strstr(*u, me));
  g_auto(GStrv) zero = tandem_mount_find_users("/nonexistent", dir, 5);
  assert_null(zero[0]);
}

/* A /proc of our own making: PID/{comm,cwd,root,exe,fd/N}. */
static char *fake_proc_link(const char *proc, const char *rel,
                            const char *target) {
  g_autofree char *link = g_build_filename(proc, rel, NULL);
  g_autofree char *dir = g_path_get_dirname(link);
  assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
  assert_int_equal(symlink(target, link), 0);
  return g_steal_pointer(&link);
}

static void fake_proc_comm(const char *proc, const char *pid,
                           const char *comm) {
  g_autofree char *path = g_build_filename(proc, pid, "comm", NULL);
  g_autofree char *dir = g_path_get_dirname(path);
  assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
  assert_true(g_file_set_contents(path, comm, -1, NULL));
}

static void test_scan_fake_proc(void **state) {
  g_autofree char *proc = g_build_filename(root, "fakeproc", NULL);
  g_autofree char *mp = g_build_filename(root, "media-x", NULL);
  g_autofree char *inside = g_build_filename(mp, "dir", NULL);
  g_autofree char *file = g_strdup_printf("%s/notes.txt (deleted)", mp);
  g_autofree char *sibling = g_strdup_printf("%s-other/f", mp);
  g_autofree char *outside = g_build_filename(root, "outside", NULL);
  g_free(fake_proc_link(proc, "7/cwd", inside));
  g_free(fake_proc_link(proc, "7/root", "/"));
  g_free(fake_proc_link(proc, "7/fd/0", "/dev/null"));
  fake_proc_comm(proc, "7", "xterm\n");
  g_free(fake_proc_link(proc, "9/root", mp)); /* chrooted into it */
  fake_proc_comm(proc, "9", "\x1b[31mevil\xe2\x80\xae\n");
  g_free(fake_proc_link(proc, "12/cwd", "/"));
  g_free(fake_proc_link(proc, "12/fd/1", sibling)); /* not inside */
  g_free(fake_proc_link(proc, "12/fd/2", "socket:[4242]"));
  fake_proc_comm(proc, "12", "other\n");
  g_free(fake_proc_link(proc, "130/cwd", "/"));
  g_free(fake_proc_link(proc, "130/fd/3", file));
  fake_proc_comm(proc, "130", "sh\n");
  /* No comm: named "?". */
  g_free(fake_proc_link(proc, "131/exe", inside));
  /* Links that lead out of the tree are never followed: a PID that is a
   * symbolic link, and an fd directory that is one. */
  g_free(fake_proc_link(proc, "../outside/20/cwd", inside));
  g_autofree char *outside20 = g_build_filename(outside, "20", NULL);
  g_free(fake_proc_link(proc, "20", outside20));
  g_free(fake_proc_link(proc, "../outside/fds/4", inside));
  g_autofree char *fds = g_build_filename(outside, "fds", NULL);
  g_free(fake_proc_link(proc, "21/fd", fds));
  fake_proc_comm(proc, "21", "sneaky\n");
  g_free(fake_proc_link(proc, "self", "7"));
  fake_proc_comm(proc, "sys", "not a process\n");

  gboolean more = TRUE;
  g_auto(GStrv) users = tandem_mount_scan_users(proc, mp, NULL, &more);
  g_autofree char *all = g_strjoinv(", ", users);
  assert_string_equal(all, "xterm (pid 7), [31mevil (pid 9), sh (pid 130), "
                           "? (pid 131)");
  assert_false(more);
  assert_int_equal(g_strv_length(users), 4);

  /* Each bound stops the scan and says so. */
  TandemProcScanLimits l = TANDEM_PROC_SCAN_LIMITS_DEFAULT;
  l.max_users = 2;
  g_auto(GStrv) two = tandem_mount_scan_users(proc, mp, &l, &more);
  assert_int_equal(g_strv_length(two), 2);
  assert_true(more);
  l = (TandemProcScanLimits)TANDEM_PROC_SCAN_LIMITS_DEFAULT;
  l.max_processes = 2;
  g_auto(GStrv) few = tandem_mount_scan_users(proc, mp, &l, &more);
  assert_true(g_strv_length(few) <= 2);
  assert_true(more);
  l = (TandemProcScanLimits)TANDEM_PROC_SCAN_LIMITS_DEFAULT;
  l.max_entries = 4;
  g_auto(GStrv) short_scan = tandem_mount_scan_users(proc, mp, &l, &more);
  assert_true(g_strv_length(short_scan) < 4);
  assert_true(more);
  l = (TandemProcScanLimits)TANDEM_PROC_SCAN_LIMITS_DEFAULT;
  l.max_time_us = -1;
  g_auto(GStrv) late = tandem_mount_scan_users(proc, mp, &l, &more);
  assert_null(late[0]);
  assert_true(more);
  /* Nothing there at all. */
  g_autofree char *missing = g_build_filename(root, "no-proc", NULL);
  g_auto(GStrv) none = tandem_mount_scan_users(missing, mp, NULL, &more);
  assert_null(none[0]);
  assert_false(more);
}

/* --- The helper's line protocol ----------------------------------------- */

static void test_wire_requests(void **state) {
  struct {
    const char *line;
    gboolean unmount, ro, lazy;
    const char *serial, *label;
  } good[] = {
      {"mount tandem-data data rw\n", FALSE, FALSE, FALSE, "tandem-data",
       "data"},
      {"mount s l ro", FALSE, TRUE, FALSE, "s", "l"},
      {"unmount tandem-data\n", TRUE, FALSE, FALSE, "tandem-data", NULL},
      {"unmount x lazy\n", TRUE, FALSE, TRUE, "x", NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(TandemMountRequest) r =
        tandem_mount_request_parse(good[i].line, &error);
    if (!r)
      fail_msg("“%s”: %s", good[i].line, error->message);
    assert_int_equal(r->unmount, good[i].unmount);
    assert_int_equal(r->read_only, good[i].ro);
    assert_int_equal(r->lazy, good[i].lazy);
    assert_string_equal(r->serial, good[i].serial);
    if (good[i].label)
      assert_string_equal(r->label, good[i].label);
    else
      assert_null(r->label);
    g_autofree char *line = tandem_mount_request_format(r);
    g_autoptr(TandemMountRequest) back = tandem_mount_request_parse(line,
                                                                    NULL);
    assert_non_null(back);
    assert_string_equal(back->serial, r->serial);
    assert_int_equal(back->read_only, r->read_only);
  }
  char huge[600];
  memset(huge, 'a', sizeof huge - 1);
  huge[sizeof huge - 1] = '\0';
  memcpy(huge, "mount ", 6);
  const char *bad[] = {
      "", "\n", "mount", "mount a b", "mount a b rx\n", "mount a b rw x\n",
      "mount a ../b rw\n", "mount a/b c rw\n", "mount  a b rw\n",
      "unmount\n", "unmount a b\n", "unmount a lazy x\n", "format a\n",
      "mount a b rw\r\n", "mount a\tb rw\n", "mount a b rw\n\n",
      "mount \xc3\xa9 b rw\n", huge, NULL,
  };
  for (int i = 0; bad[i]; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(TandemMountRequest) r = tandem_mount_request_parse(bad[i],
                                                                 &error);
    if (r)
      fail_msg("“%s” was accepted", bad[i]);
    assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
  }
  TandemMountRequest invalid = {.serial = (char *)"a b", .label = NULL};
  assert_null(tandem_mount_request_format(&invalid));
  invalid = (TandemMountRequest){.serial = (char *)"a",
                                 .label = (char *)".."};
  assert_null(tandem_mount_request_format(&invalid));
}

static void test_wire_results(void **state) {
  /* Messages lose tabs, newlines, escapes and bidi overrides; they are cut
   * to the protocol's limit on a character boundary. */
  g_autoptr(TandemMountResult) r = tandem_mount_result_new(
      TP_MOUNT_BUSY, "/media/tandem/x",
      "in\tuse\nby \x1b[31mred\xe2\x80\xae and \xff");
  assert_int_equal(r->status, TP_MOUNT_BUSY);
  assert_null(strpbrk(r->message, "\t\n\x1b"));
  assert_null(strstr(r->message, "\xe2\x80\xae"));
  assert_true(g_utf8_validate(r->message, -1, NULL));
  g_autofree char *line = tandem_mount_result_format(r);
  assert_true(g_str_has_prefix(line, "3\t/media/tandem/x\t\t0\t0\t"));
  assert_true(g_str_has_suffix(line, "\n"));
  g_autoptr(TandemMountResult) back = tandem_mount_result_parse(line, NULL);
  assert_non_null(back);
  assert_int_equal(back->status, TP_MOUNT_BUSY);
  assert_string_equal(back->mountpoint, r->mountpoint);
  assert_string_equal(back->message, r->message);

  GString *long_msg = g_string_new("");
  for (int i = 0; i < 600; i++)
    g_string_append(long_msg, "\xc3\xa9"); /* 1200 bytes of é */
  g_autoptr(TandemMountResult) cut =
      tandem_mount_result_new(TP_MOUNT_OK, "/m", "%s", long_msg->str);
  g_string_free(long_msg, TRUE);
  assert_true(strlen(cut->message) <= TP_MAX_MESSAGE_LEN);
  assert_true(strlen(cut->message) >= TP_MAX_MESSAGE_LEN - 1);
  assert_true(g_utf8_validate(cut->message, -1, NULL));

  /* A mount point that is no clean path is dropped, and statuses beyond
   * the protocol's become "failed". */
  g_autoptr(TandemMountResult) dirty =
      tandem_mount_result_new(TP_MOUNT_OK, "/a\nb", "m");
  assert_string_equal(dirty->mountpoint, "");
  g_autoptr(TandemMountResult) beyond =
      tandem_mount_result_new((TpMountStatus)9, "", "m");
  assert_int_equal(beyond->status, TP_MOUNT_FAILED);
  for (int s = TP_MOUNT_OK; s <= TP_MOUNT_LAST; s++)
    assert_non_null(tandem_mount_status_to_string((TpMountStatus)s));

  const char *bad[] = {
      "", "\n", "0\t/m", "0\t\tm\n", "0\t/m\text4\t1\tm\n",
      "5\t\t\t0\t0\tx\n", "-1\t\t\t0\t0\tx\n", "x\t\t\t0\t0\tm\n",
      "+0\t\t\t0\t0\tm\n", "0\trelative\t\t0\t0\tm\n",
      "0\t/a\x01\t\t0\t0\tm\n", " 0\t\t\t0\t0\tm\n",
      /* The type: [a-z0-9], 1 to 16, only on success. */
      "0\t/m\tEXT4\t1\t1\tm\n", "0\t/m\text-4\t1\t1\tm\n",
      "0\t/m\tabcdefghijklmnopq\t1\t1\tm\n", "2\t\text4\t1\t1\tm\n",
      /* Sizes: decimal, free <= total, none without a type. */
      "0\t/m\text4\t1\t2\tm\n", "0\t/m\t\t1\t0\tm\n",
      "0\t/m\text4\t-1\t0\tm\n", "0\t/m\text4\t01\t0\tm\n",
      "0\t/m\text4\t\t0\tm\n", "0\t/m\text4\t1x\t0\tm\n",
      "0\t/m\text4\t9223372036854775808\t0\tm\n", NULL};
  for (int i = 0; bad[i]; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(TandemMountResult) p = tandem_mount_result_parse(bad[i], &error);
    if (p)
      fail_msg("reply “%s” was accepted", bad[i]);
    assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
  }
  g_autoptr(TandemMountResult) tabs =
      tandem_mount_result_parse("2\t\t\t0\t0\tmessage\twith tab\n", NULL);
  assert_non_null(tabs);
  assert_string_equal(tabs->message, "message with tab");

  /* The type and sizes, both ways. */
  g_autoptr(TandemMountResult) ok =
      tandem_mount_result_new(TP_MOUNT_OK, "/media/tandem/d", "Mounted.");
  tandem_mount_result_set_fs(ok, "vfat", G_GUINT64_CONSTANT(8589934592),
                             G_GUINT64_CONSTANT(4294967296));
  g_autofree char *ok_line = tandem_mount_result_format(ok);
  assert_string_equal(ok_line, "0\t/media/tandem/d\tvfat\t8589934592\t"
                               "4294967296\tMounted.\n");
  g_autoptr(TandemMountResult) ok_back = tandem_mount_result_parse(ok_line,
                                                                   NULL);
  assert_non_null(ok_back);
  assert_string_equal(ok_back->fs_type, "vfat");
  assert_true(ok_back->total_bytes == G_GUINT64_CONSTANT(8589934592));
  assert_true(ok_back->free_bytes == G_GUINT64_CONSTANT(4294967296));
  g_autoptr(TandemMountResult) biggest = tandem_mount_result_parse(
      "0\t/m\tabcdefghijklmnop\t9223372036854775807\t0\tm\n", NULL);
  assert_non_null(biggest);
  assert_string_equal(biggest->fs_type, "abcdefghijklmnop");

  /* A result built by hand cannot carry what the protocol refuses: no
   * type on failure, none too long or odd, free never above the size. */
  g_autoptr(TandemMountResult) fail =
      tandem_mount_result_new(TP_MOUNT_FAILED, "", "no");
  tandem_mount_result_set_fs(fail, "ext4", 10, 5);
  assert_string_equal(fail->fs_type, "");
  assert_int_equal(fail->total_bytes, 0);
  g_autofree char *fail_line = tandem_mount_result_format(fail);
  assert_string_equal(fail_line, "2\t\t\t0\t0\tno\n");
  const char *odd[] = {"", "Ext4", "ext 4", "abcdefghijklmnopq", "ntfs-3g",
                       NULL};
  for (int i = 0; odd[i]; i++) {
    tandem_mount_result_set_fs(ok, odd[i], 10, 5);
    assert_string_equal(ok->fs_type, "");
    assert_int_equal(ok->total_bytes, 0);
    assert_false(tandem_mount_fs_type_is_valid(odd[i]));
  }
  assert_false(tandem_mount_fs_type_is_valid(NULL));
  tandem_mount_result_set_fs(ok, "ext4", 10, 50);
  assert_int_equal(ok->free_bytes, 10);
  ok->free_bytes = 99; /* by hand: the format caps it */
  g_autofree char *capped = tandem_mount_result_format(ok);
  assert_has(capped, "\text4\t10\t10\t");
}

/* --- TandemMounter in-process -------------------------------------------- */

static void test_mounter_in_process(void **state) {
  fresh_mounts(state);
  TandemMountConfig c = config();
  g_autoptr(TandemMounter) mounter = tandem_mounter_new_in_process(&c);
  assert_has(tandem_mounter_describe(mounter), "in-process");
  Collected got = {g_ptr_array_new_with_free_func(g_free), 4, FALSE};
  TpMount m1 = {7, "tandem-data", "data", 0};
  TpMount m2 = {8, "no-such-disk", "x", 1};
  TpUnmount u1 = {9, "tandem-data"};
  TpMount bad = {10, "plain", "../up", 0};
  tandem_mounter_mount(mounter, &m1, collect, &got);
  tandem_mounter_mount(mounter, &m2, collect, &got);
  tandem_mounter_unmount(mounter, &u1, collect, &got);
  tandem_mounter_mount(mounter, &bad, collect, &got);
  /* Never synchronously. */
  assert_int_equal(got.results->len, 0);
  assert_true(tandem_test_wait(&got.done, 30));
  g_autofree char *mp = mp_path("data");
  g_autofree char *first = g_strdup_printf("7 ok %s ext4", mp);
  g_autofree char *third = g_strdup_printf("9 ok %s", mp);
  /* In order, one at a time. */
  assert_string_equal(got.results->pdata[0], first);
  assert_string_equal(got.results->pdata[1], "8 not-found ");
  assert_string_equal(got.results->pdata[2], third);
  assert_string_equal(got.results->pdata[3], "10 failed ");
  g_ptr_array_unref(got.results);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_find_device),
      cmocka_unit_test(test_find_device_errors),
      cmocka_unit_test(test_probe_handmade),
      cmocka_unit_test(test_probe_mkfs),
      cmocka_unit_test(test_mount_partition),
      cmocka_unit_test(test_mount_fat_read_only),
      cmocka_unit_test(test_mount_refusals),
      cmocka_unit_test(test_mount_errors),
      cmocka_unit_test(test_mount_fresh_owner),
      cmocka_unit_test(test_unmount),
      cmocka_unit_test(test_find_users),
      cmocka_unit_test(test_scan_fake_proc),
      cmocka_unit_test(test_sync_disk),
      cmocka_unit_test(test_wire_requests),
      cmocka_unit_test(test_wire_results),
      cmocka_unit_test(test_mounter_in_process),
  };
  return cmocka_run_group_tests_name("mount", tests, mount_fixture_setup,
                                     mount_fixture_teardown);
}
