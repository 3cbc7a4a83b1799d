/* Mounting attached disks by serial (guest-agent/mount), without root and
 * without a VM: a fixture sysfs and /dev, a fixture mount table, stand-ins
 * for mount(2) and umount2(2), superblocks written by hand (and by mke2fs
 * when it is installed), the helper's line protocol, and the real
 * tandem-mount-helper and tandem-mount binaries over a UNIX socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tandem-agent-mount.h"
#include "test-wait.h"

/* --- Fixtures ------------------------------------------------------------ */

static char *root, *sysfs, *devdir, *base, *mountinfo;
static GHashTable *devnums; /* device path -> "MAJ:MIN" */

/* What the stand-in system calls saw and will do. */
typedef struct {
  char *source, *target, *fstype, *data;
  unsigned long flags;
} MountCall;

static GPtrArray *mount_calls;  /* MountCall */
static GPtrArray *umount_calls; /* char *target; flags in umount_flags */
static int umount_flags;
static int mount_errno, umount_errno;
static guint mount_id = 100;

static void mount_call_free(MountCall *c) {
  g_free(c->source);
  g_free(c->target);
  g_free(c->fstype);
  g_free(c->data);
  g_free(c);
}

static void put(const char *rel, const void *data, gssize len) {
  g_autofree char *path = g_build_filename(root, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  assert_int_equal(g_mkdir_with_parents(parent, 0755), 0);
  assert_true(g_file_set_contents(path, data, len, NULL));
}

static void put_text(const char *rel, const char *text) {
  put(rel, text, -1);
}

static guint8 *image(gsize len) {
  return g_malloc0(len);
}

static void put_image(const char *name, const guint8 *data, gsize len) {
  g_autofree char *rel = g_build_filename("dev", name, NULL);
  put(rel, data, (gssize)len);
}

static guint8 *ext_image(guint32 compat, guint32 incompat, guint32 ro) {
  guint8 *d = image(4096);
  d[1080] = 0x53;
  d[1081] = 0xEF;
  memcpy(d + 1116, &compat, 4); /* x86-64: little-endian like the disk */
  memcpy(d + 1120, &incompat, 4);
  memcpy(d + 1124, &ro, 4);
  return d;
}

static guint8 *ext4_image(void) {
  return ext_image(0x4, 0x2 | 0x40 | 0x200, 0x1 | 0x2);
}

static guint8 *fat_image(gboolean fat32) {
  guint8 *d = image(4096);
  d[0] = 0xEB;
  d[1] = 0x3C;
  d[2] = 0x90;
  memcpy(d + 3, "mkfs.fat", 8);
  d[11] = 0x00; /* 512 bytes per sector */
  d[12] = 0x02;
  d[13] = 4;    /* sectors per cluster */
  d[14] = fat32 ? 32 : 1;
  d[16] = 2;    /* FATs */
  memcpy(d + (fat32 ? 82 : 54), fat32 ? "FAT32   " : "FAT16   ", 8);
  d[510] = 0x55;
  d[511] = 0xAA;
  return d;
}

static guint8 *mbr_image(void) {
  guint8 *d = image(4096);
  d[446 + 4] = 0x83; /* one Linux partition entry */
  d[510] = 0x55;
  d[511] = 0xAA;
  return d;
}

/* A disk: sysfs block/NAME with dev, ro and (if given) the serial file
 * @serial_file ("serial", "device/serial") holding @serial; /dev/NAME
 * holding @data. */
static void disk(const char *name, const char *devnum, const char *serial_file,
                 const char *serial, guint8 *data, gsize len,
                 gboolean read_only) {
  g_autofree char *dir = g_build_filename("sys", "block", name, NULL);
  g_autofree char *dev = g_build_filename(dir, "dev", NULL);
  g_autofree char *ro = g_build_filename(dir, "ro", NULL);
  g_autofree char *text = g_strdup_printf("%s\n", devnum);
  put_text(dev, text);
  put_text(ro, read_only ? "1\n" : "0\n");
  if (serial_file) {
    g_autofree char *sf = g_build_filename(dir, serial_file, NULL);
    put_text(sf, serial);
  }
  if (data)
    put_image(name, data, len);
  g_free(data);
  g_hash_table_insert(devnums, g_build_filename(devdir, name, NULL),
                      g_strdup(devnum));
}

static void partition(const char *disk_name, const char *name, guint number,
                      const char *devnum, guint8 *data, gsize len) {
  g_autofree char *dir = g_build_filename("sys", "block", disk_name, name,
                                          NULL);
  g_autofree char *dev = g_build_filename(dir, "dev", NULL);
  g_autofree char *part = g_build_filename(dir, "partition", NULL);
  g_autofree char *ro = g_build_filename(dir, "ro", NULL);
  g_autofree char *text = g_strdup_printf("%s\n", devnum);
  g_autofree char *num = g_strdup_printf("%u\n", number);
  put_text(dev, text);
  put_text(part, num);
  put_text(ro, "0\n");
  if (data)
    put_image(name, data, len);
  g_free(data);
  g_hash_table_insert(devnums, g_build_filename(devdir, name, NULL),
                      g_strdup(devnum));
}

static const char *const initial_mounts =
    "22 1 0:21 / /proc rw,nosuid,nodev,noexec - proc proc rw\n"
    "25 1 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=1k\n"
    "30 1 253:80 / /home/user rw,nosuid,nodev shared:7 - ext4 /dev/vdf rw\n"
    "31 1 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";

static int setup(void **state) {
  root = g_dir_make_tmp("mount-test-XXXXXX", NULL);
  sysfs = g_build_filename(root, "sys", NULL);
  devdir = g_build_filename(root, "dev", NULL);
  base = g_build_filename(root, "media", "tandem", NULL);
  mountinfo = g_build_filename(root, "mountinfo", NULL);
  devnums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

  /* virtio-blk, partitioned: 1 swap, 2 ext4, 10 ext2 (sorts after 2). */
  disk("vda", "253:0", "serial", "tandem-data\n", mbr_image(), 4096, FALSE);
  guint8 *swap = image(8192);
  memcpy(swap + 4086, "SWAPSPACE2", 10);
  partition("vda", "vda1", 1, "253:1", swap, 8192);
  partition("vda", "vda10", 10, "253:10", ext_image(0, 0x2, 0x1), 4096);
  partition("vda", "vda2", 2, "253:2", ext4_image(), 4096);
  /* virtio-blk, whole-disk FAT. */
  disk("vdb", "253:16", "serial", "plain\n", fat_image(FALSE), 4096, FALSE);
  /* NVMe: the controller's serial, padded to 20 with spaces. */
  guint8 *xfs = image(4096);
  memcpy(xfs, "XFSB", 4);
  disk("nvme0n1", "259:0", "device/serial", "nvme-serial         \n", xfs,
       4096, FALSE);
  /* Two namespaces of one controller: one serial. */
  disk("nvme1n1", "259:1", "device/serial", "shared-ctrl         \n", NULL, 0,
       FALSE);
  disk("nvme1n2", "259:2", "device/serial", "shared-ctrl         \n", NULL, 0,
       FALSE);
  /* NVMe multipath's hidden path device: never a match. */
  disk("nvme2c2n1", "259:3", "device/serial", "hidden-path\n", NULL, 0, FALSE);
  put_text("sys/block/nvme2c2n1/hidden", "1\n");
  /* SCSI: the serial only in VPD page 0x80, padded. */
  guint8 *btrfs = image(TANDEM_MOUNT_PROBE_BYTES);
  memcpy(btrfs + 0x10040, "_BHRfS_M", 8);
  disk("sda", "8:0", NULL, NULL, btrfs, TANDEM_MOUNT_PROBE_BYTES, FALSE);
  static const guint8 vpd[] = {0x00, 0x80, 0x00, 0x0a, ' ', 'S', 'C', 'S',
                               'I',  '-',  '1',  '2',  '3', ' '};
  put("sys/block/sda/device/vpd_pg80", vpd, sizeof vpd);
  /* No serial at all, and a loop device. */
  disk("vdc", "253:32", NULL, NULL, ext4_image(), 4096, FALSE);
  disk("loop0", "7:0", NULL, NULL, NULL, 0, FALSE);
  /* A blank disk, a read-only one, the system's home disk, a partition
   * table the kernel shows no partitions of, a CD image. */
  disk("vdd", "253:48", "serial", "blank\n", image(8192), 8192, FALSE);
  disk("vde", "253:64", "serial", "rodisk\n", ext4_image(), 4096, TRUE);
  disk("vdf", "253:80", "serial", "home\n", ext4_image(), 4096, FALSE);
  disk("vdg", "253:96", "serial", "ptable-only\n", mbr_image(), 4096, FALSE);
  guint8 *iso = image(0x8800);
  memcpy(iso + 0x8001, "CD001", 5);
  disk("vdh", "253:112", "serial", "cdrom\n", iso, 0x8800, FALSE);
  /* Names a fixture could hold but the kernel never makes. */
  put_text("sys/block/.hidden/serial", "tandem-data\n");
  put_text("sys/block/bad name/serial", "tandem-data\n");

  mount_calls = g_ptr_array_new_with_free_func((GDestroyNotify)mount_call_free);
  umount_calls = g_ptr_array_new_with_free_func(g_free);
  return 0;
}

static void remove_tree(const char *path) {
  GDir *d = g_dir_open(path, 0, NULL);
  if (d) {
    const char *name;
    while ((name = g_dir_read_name(d))) {
      g_autofree char *child = g_build_filename(path, name, NULL);
      struct stat st;
      if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
        remove_tree(child);
      else
        g_unlink(child);
    }
    g_dir_close(d);
  }
  g_rmdir(path);
}

static int teardown(void **state) {
  remove_tree(root);
  g_free(root);
  g_free(sysfs);
  g_free(devdir);
  g_free(base);
  g_free(mountinfo);
  g_hash_table_destroy(devnums);
  g_ptr_array_unref(mount_calls);
  g_ptr_array_unref(umount_calls);
  return 0;
}

/* Every test that mounts starts from the initial mount table. */
static int fresh_mounts(void **state) {
  assert_true(g_file_set_contents(mountinfo, initial_mounts, -1, NULL));
  g_ptr_array_set_size(mount_calls, 0);
  g_ptr_array_set_size(umount_calls, 0);
  mount_errno = umount_errno = 0;
  remove_tree(base);
  return 0;
}

/* --- Stand-in system calls ---------------------------------------------- */

static int fake_mount(const char *source, const char *target,
                      const char *fstype, unsigned long flags,
                      const char *data, void *fn_data) {
  MountCall *c = g_new0(MountCall, 1);
  c->source = g_strdup(source);
  c->target = g_strdup(target);
  c->fstype = g_strdup(fstype);
  c->data = g_strdup(data);
  c->flags = flags;
  g_ptr_array_add(mount_calls, c);
  if (mount_errno) {
    errno = mount_errno;
    return -1;
  }
  const char *num = g_hash_table_lookup(devnums, source);
  g_autofree char *old = NULL;
  assert_true(g_file_get_contents(mountinfo, &old, NULL, NULL));
  g_autofree char *text = g_strdup_printf(
      "%s%u 1 %s / %s %s - %s %s rw\n", old, mount_id++, num ? num : "0:99",
      target, flags & MS_RDONLY ? "ro" : "rw", fstype, source);
  assert_true(g_file_set_contents(mountinfo, text, -1, NULL));
  return 0;
}

static int fake_umount(const char *target, int flags, void *fn_data) {
  g_ptr_array_add(umount_calls, g_strdup(target));
  umount_flags = flags;
  if (umount_errno) {
    errno = umount_errno;
    return -1;
  }
  g_autofree char *old = NULL;
  assert_true(g_file_get_contents(mountinfo, &old, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(old, "\n", -1);
  GString *kept = g_string_new("");
  g_autofree char *needle = g_strdup_printf(" %s ", target);
  for (char **l = lines; *l; l++)
    if (**l && !strstr(*l, needle))
      g_string_append_printf(kept, "%s\n", *l);
  assert_true(g_file_set_contents(mountinfo, kept->str, -1, NULL));
  g_string_free(kept, TRUE);
  return 0;
}

static TandemMountConfig config(void) {
  TandemMountConfig c;
  tandem_mount_config_init(&c);
  c.sysfs_root = sysfs;
  c.dev_root = devdir;
  c.base_dir = base;
  c.mountinfo = mountinfo;
  c.mount_fn = fake_mount;
  c.umount_fn = fake_umount;
  return c;
}

static const MountCall *last_mount(void) {
  assert_true(mount_calls->len > 0);
  return mount_calls->pdata[mount_calls->len - 1];
}

static char *dev_path(const char *name) {
  return g_build_filename(devdir, name, NULL);
}

static char *mp_path(const char *label) {
  return g_build_filename(base, label, NULL);
}

#define assert_has(haystack, needle)                                        \
  do {                                                                      \
    if (!strstr((haystack), (needle)))                                      \
      fail_msg("“%s” lacks “%s”", (haystack), (needle));                    \
  } while (0)

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
  assert_int_equal(mount_calls->len, 1);

  /* The same disk under another label: refused, it says where it is. */
  g_autoptr(TandemMountResult) other =
      tandem_mount_do_mount(&c, "tandem-data", "other", FALSE);
  assert_int_equal(other->status, TP_MOUNT_FAILED);
  assert_string_equal(other->mountpoint, "");
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
      {"blank", "x", FALSE, TP_MOUNT_FAILED, "no file system"},
      {"ptable-only", "x", FALSE, TP_MOUNT_FAILED, "partition table"},
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
  assert_has(busy->message, "close the files");
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
  assert_has(lazy->message, "lazily");
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
  assert_true(g_str_has_prefix(line, "3\t/media/tandem/x\t"));
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

  const char *bad[] = {"", "\n", "0\t/m", "4\t\tx\n", "-1\t\tx\n",
                       "x\t\tm\n", "0\trelative\tm\n", "0\t/a\x01\tm\n",
                       " 0\t\tm\n", NULL};
  for (int i = 0; bad[i]; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(TandemMountResult) p = tandem_mount_result_parse(bad[i], &error);
    if (p)
      fail_msg("reply “%s” was accepted", bad[i]);
    assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
  }
  g_autoptr(TandemMountResult) tabs =
      tandem_mount_result_parse("2\t\tmessage\twith tab\n", NULL);
  assert_non_null(tabs);
  assert_string_equal(tabs->message, "message with tab");
}

/* --- TandemMounter in-process -------------------------------------------- */

typedef struct {
  GPtrArray *results; /* "ID STATUS MOUNTPOINT" */
  guint want;
  gboolean done;
} Collected;

static void collect(const TpMountResult *r, gpointer data) {
  Collected *c = data;
  assert_true(r->message && *r->message);
  g_ptr_array_add(c->results,
                  g_strdup_printf("%u %s %s", r->request_id,
                                  tandem_mount_status_to_string(r->status),
                                  r->mountpoint));
  c->done = c->results->len >= c->want;
}

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
  g_autofree char *first = g_strdup_printf("7 ok %s", mp);
  g_autofree char *third = g_strdup_printf("9 ok %s", mp);
  /* In order, one at a time. */
  assert_string_equal(got.results->pdata[0], first);
  assert_string_equal(got.results->pdata[1], "8 not-found ");
  assert_string_equal(got.results->pdata[2], third);
  assert_string_equal(got.results->pdata[3], "10 failed ");
  g_ptr_array_unref(got.results);
}

/* --- The real helper and client over a socket ---------------------------- */

typedef struct {
  GPid pid;
  int err_fd;
  GString *log;
  gboolean listening, exited;
  int status;
  guint watch, child_watch;
  char *socket;
} Helper;

static gboolean on_helper_output(GIOChannel *ch, GIOCondition cond,
                                 gpointer data) {
  Helper *h = data;
  char buf[4096];
  ssize_t n = read(h->err_fd, buf, sizeof buf);
  if (n <= 0) {
    h->watch = 0;
    return G_SOURCE_REMOVE;
  }
  g_string_append_len(h->log, buf, n);
  if (strstr(h->log->str, "listening on"))
    h->listening = TRUE;
  return G_SOURCE_CONTINUE;
}

static void on_helper_exit(GPid pid, int status, gpointer data) {
  Helper *h = data;
  h->status = status;
  h->exited = TRUE;
  h->child_watch = 0;
  g_spawn_close_pid(pid);
}

static char *build_file(const char *rel) {
  const char *build = g_getenv("TANDEM_BUILD_ROOT");
  if (!build)
    fail_msg("TANDEM_BUILD_ROOT is not set (run with meson test)");
  return g_build_filename(build, rel, NULL);
}

/* Starts tandem-mount-helper on the fixture; waits until it listens. */
static void helper_start(Helper *h, const char *name, const char *allow) {
  g_autofree char *exe = build_file("guest-agent/mount/tandem-mount-helper");
  h->socket = g_build_filename(root, name, NULL);
  g_autofree char *owner = g_strdup_printf("--owner=%u:%u", (unsigned)getuid(),
                                           (unsigned)getgid());
  g_autofree char *sock = g_strdup_printf("--socket=%s", h->socket);
  g_autofree char *b = g_strdup_printf("--base=%s", base);
  g_autofree char *s = g_strdup_printf("--sysfs-root=%s", sysfs);
  g_autofree char *d = g_strdup_printf("--dev-root=%s", devdir);
  g_autofree char *mi = g_strdup_printf("--mountinfo=%s", mountinfo);
  g_autofree char *a = allow ? g_strdup_printf("--allow-uid=%s", allow)
                             : g_strdup("--request-timeout=2000");
  const char *argv[] = {exe, owner, sock, b, s, d, mi, a, NULL};
  h->log = g_string_new("");
  g_autoptr(GError) error = NULL;
  if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &h->pid, NULL, NULL, &h->err_fd, &error))
    fail_msg("cannot start %s: %s", exe, error->message);
  GIOChannel *ch = g_io_channel_unix_new(h->err_fd);
  h->watch = g_io_add_watch(ch, G_IO_IN | G_IO_HUP | G_IO_ERR,
                            on_helper_output, h);
  g_io_channel_unref(ch);
  h->child_watch = g_child_watch_add(h->pid, on_helper_exit, h);
  if (!tandem_test_wait(&h->listening, 10))
    fail_msg("the helper did not listen within 10 s: %s", h->log->str);
  struct stat st;
  assert_int_equal(lstat(h->socket, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_uid, getuid());
}

static void helper_stop(Helper *h) {
  kill(h->pid, SIGTERM);
  if (!tandem_test_wait(&h->exited, 10))
    fail_msg("the helper did not stop on SIGTERM");
  assert_true(WIFEXITED(h->status));
  assert_int_equal(WEXITSTATUS(h->status), 0);
  /* It removes its socket. */
  assert_false(g_file_test(h->socket, G_FILE_TEST_EXISTS));
  while (h->watch)
    g_main_context_iteration(NULL, TRUE);
  close(h->err_fd);
  g_string_free(h->log, TRUE);
  g_clear_pointer(&h->socket, g_free);
}

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits (bounded) until the helper has logged @text. */
static void wait_log(Helper *h, const char *text) {
  gboolean expired = FALSE;
  guint id = g_timeout_add(10000, on_deadline, &expired);
  while (!strstr(h->log->str, text) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (expired)
    fail_msg("the helper never logged “%s”: %s", text, h->log->str);
  g_source_remove(id);
}

/* One raw exchange with the helper's socket. */
static char *raw_exchange(const char *path, const char *data, gsize len) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  g_strlcpy(addr.sun_path, path, sizeof addr.sun_path);
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (len) {
    /* A helper that refuses the peer may answer and hang up before the
     * request is even sent: then the answer is still there to read. */
    ssize_t sent = send(fd, data, len, MSG_NOSIGNAL);
    if (sent != (ssize_t)len && errno != EPIPE && errno != ECONNRESET)
      fail_msg("cannot send to %s: %s", path, g_strerror(errno));
  }
  GString *reply = g_string_new("");
  char buf[1024];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    g_string_append_len(reply, buf, n);
  close(fd);
  return g_string_free(reply, FALSE);
}

typedef struct {
  TandemMountResult *result;
  GError *error;
  gboolean done;
} Finished;

static void on_request_done(GObject *src, GAsyncResult *res, gpointer data) {
  Finished *f = data;
  f->result = tandem_mount_request_finish(res, &f->error);
  f->done = TRUE;
}

static void on_unmount_request_done(GObject *src, GAsyncResult *res,
                                    gpointer data) {
  Finished *f = data;
  f->result = tandem_unmount_request_finish(res, &f->error);
  f->done = TRUE;
}

static int run_client(const char *socket_path, const char *const *args,
                      char **out, char **err) {
  g_autofree char *exe = build_file("guest-agent/mount/tandem-mount");
  g_autofree char *sock = g_strdup_printf("--socket=%s", socket_path);
  GPtrArray *argv = g_ptr_array_new();
  g_ptr_array_add(argv, exe);
  g_ptr_array_add(argv, sock);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add(argv, (char *)args[i]);
  g_ptr_array_add(argv, NULL);
  int status = -1;
  assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL,
                           out, err, &status, NULL));
  g_ptr_array_unref(argv);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void test_helper_socket(void **state) {
  fresh_mounts(state);
  Helper h = {0};
  helper_start(&h, "mount.sock", NULL);

  /* Through TandemMounter, as the agent asks. */
  g_autoptr(TandemMounter) mounter = tandem_mounter_new_for_socket(h.socket);
  assert_has(tandem_mounter_describe(mounter), h.socket);
  Collected got = {g_ptr_array_new_with_free_func(g_free), 3, FALSE};
  TpMount nope = {1, "no-such-disk", "x", 0};
  TpMount real = {2, "tandem-data", "data", 0};
  TpUnmount home = {3, "home"};
  tandem_mounter_mount(mounter, &nope, collect, &got);
  tandem_mounter_mount(mounter, &real, collect, &got);
  tandem_mounter_unmount(mounter, &home, collect, &got);
  assert_true(tandem_test_wait(&got.done, 30));
  assert_string_equal(got.results->pdata[0], "1 not-found ");
  /* The helper really calls mount(2), on a fixture file: refused (EPERM,
   * or ENOTBLK as root), and the mount point is removed again. */
  assert_string_equal(got.results->pdata[1], "2 failed ");
  g_autofree char *mp = mp_path("data");
  assert_false(g_file_test(mp, G_FILE_TEST_EXISTS));
  assert_string_equal(got.results->pdata[2], "3 failed ");
  g_ptr_array_unref(got.results);

  /* The client functions themselves. */
  Finished f = {0};
  TpMount bad_label = {4, "plain", "../../etc", 0};
  tandem_mount_request_async(h.socket, &bad_label, NULL, on_request_done, &f);
  assert_true(tandem_test_wait(&f.done, 10));
  assert_null(f.error);
  assert_int_equal(f.result->status, TP_MOUNT_FAILED);
  assert_has(f.result->message, "cannot be a mount label");
  tandem_mount_result_free(f.result);
  f = (Finished){0};
  TpUnmount u = {5, "plain"};
  tandem_unmount_request_async(h.socket, &u, NULL, on_unmount_request_done,
                               &f);
  assert_true(tandem_test_wait(&f.done, 10));
  assert_null(f.error);
  assert_int_equal(f.result->status, TP_MOUNT_OK);
  assert_has(f.result->message, "not mounted");
  tandem_mount_result_free(f.result);

  /* Raw bytes: bad requests get an answer, and the helper serves on. */
  struct {
    const char *data;
    gsize len;
    const char *says;
  } raw[] = {
      {"hello\n", 6, "bad request: expected"},
      {"mount a b rw\nmore", 17, "bytes after the request line"},
      {"mount a\0b rw\n", 13, "NUL"},
      {"mount a b rw", 12, "hung up"}, /* then half-closed below */
      {"", 0, "no request in time"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(raw); i++) {
    g_autofree char *reply = NULL;
    if (i == 3) {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      struct sockaddr_un addr = {.sun_family = AF_UNIX};
      g_strlcpy(addr.sun_path, h.socket, sizeof addr.sun_path);
      assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
      assert_int_equal(send(fd, raw[i].data, raw[i].len, MSG_NOSIGNAL),
                       (ssize_t)raw[i].len);
      shutdown(fd, SHUT_WR);
      char buf[2048];
      ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      close(fd);
      reply = g_strndup(buf, n > 0 ? (gsize)n : 0);
    } else {
      reply = raw_exchange(h.socket, raw[i].data, raw[i].len);
    }
    if (!g_str_has_prefix(reply, "2\t\t"))
      fail_msg("raw request %u: reply “%s”", i, reply);
    assert_has(reply, "refused the request");
    wait_log(&h, raw[i].says);
  }
  char big[TANDEM_MOUNT_MAX_REQUEST + 100];
  memset(big, 'x', sizeof big);
  g_autofree char *too_long = raw_exchange(h.socket, big, sizeof big);
  assert_has(too_long, "too long");
  wait_log(&h, "the request is too long");

  /* The command-line client: mount point on stdout, message on stderr,
   * the status as exit status. */
  g_autofree char *out = NULL, *err = NULL;
  const char *args1[] = {"mount", "no-such-disk", "x", "ro", NULL};
  assert_int_equal(run_client(h.socket, args1, &out, &err), 1);
  assert_string_equal(out, "");
  assert_has(err, "Attach it first");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  const char *args2[] = {"unmount", "plain", NULL};
  assert_int_equal(run_client(h.socket, args2, &out, &err), 0);
  assert_has(err, "not mounted");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  const char *args3[] = {"mount", "x", NULL};
  assert_int_equal(run_client(h.socket, args3, &out, &err), 64);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_autofree char *gone = g_strdup(h.socket);
  helper_stop(&h);

  /* Nobody listening: a result that says what to do, not an error. */
  Collected none = {g_ptr_array_new_with_free_func(g_free), 1, FALSE};
  tandem_mounter_mount(mounter, &nope, collect, &none);
  assert_true(tandem_test_wait(&none.done, 10));
  assert_string_equal(none.results->pdata[0], "1 failed ");
  g_ptr_array_unref(none.results);
  f = (Finished){0};
  tandem_mount_request_async(gone, &nope, NULL, on_request_done, &f);
  assert_true(tandem_test_wait(&f.done, 10));
  assert_null(f.result);
  assert_non_null(f.error);
  assert_has(f.error->message, "cannot ask the mount service");
  g_error_free(f.error);
}

static void test_helper_refuses_peers(void **state) {
  fresh_mounts(state);
  Helper h = {0};
  g_autofree char *other = g_strdup_printf("%u", (unsigned)getuid() + 1);
  helper_start(&h, "strict.sock", other);
  g_autofree char *reply =
      raw_exchange(h.socket, "mount plain x rw\n", 17);
  g_autofree char *says = g_strdup_printf("uid %u may not use",
                                          (unsigned)getuid());
  assert_true(g_str_has_prefix(reply, "2\t\t"));
  assert_has(reply, says);
  wait_log(&h, "refused uid");
  assert_int_equal(mount_calls->len, 0);
  helper_stop(&h);
}

/* Disposing the mounter cancels: no callback comes afterwards. */
static void never(const TpMountResult *r, gpointer data) {
  fail_msg("a callback after the mounter was disposed");
}

static void test_mounter_dispose(void **state) {
  g_autofree char *sock = g_build_filename(root, "nobody.sock", NULL);
  TandemMounter *mounter = tandem_mounter_new_for_socket(sock);
  TpMount m = {1, "plain", "x", 0};
  TpUnmount u = {2, "plain"};
  tandem_mounter_mount(mounter, &m, never, NULL);
  tandem_mounter_unmount(mounter, &u, never, NULL);
  g_object_unref(mounter);
  while (g_main_context_pending(NULL))
    g_main_context_iteration(NULL, FALSE);
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
      cmocka_unit_test(test_wire_requests),
      cmocka_unit_test(test_wire_results),
      cmocka_unit_test(test_mounter_in_process),
      cmocka_unit_test(test_helper_socket),
      cmocka_unit_test(test_helper_refuses_peers),
      cmocka_unit_test(test_mounter_dispose),
  };
  return cmocka_run_group_tests_name("mount", tests, setup, teardown);
}
