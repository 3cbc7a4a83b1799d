/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fixture the mount tests share (mount-fixture.h). */
#include "mount-fixture.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* --- Fixtures ------------------------------------------------------------ */

char *root, *sysfs, *devdir, *base, *mountinfo;
static GHashTable *devnums; /* device path -> "MAJ:MIN" */

GPtrArray *mount_calls;
GPtrArray *umount_calls;
int umount_flags;
int mount_errno, umount_errno;
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

void put_text(const char *rel, const char *text) {
  put(rel, text, -1);
}

guint8 *image(gsize len) {
  return g_malloc0(len);
}

static void put_image(const char *name, const guint8 *data, gsize len) {
  g_autofree char *rel = g_build_filename("dev", name, NULL);
  put(rel, data, (gssize)len);
}

guint8 *ext_image(guint32 compat, guint32 incompat, guint32 ro) {
  guint8 *d = image(4096);
  d[1080] = 0x53;
  d[1081] = 0xEF;
  memcpy(d + 1116, &compat, 4); /* x86-64: little-endian like the disk */
  memcpy(d + 1120, &incompat, 4);
  memcpy(d + 1124, &ro, 4);
  return d;
}

guint8 *ext4_image(void) {
  return ext_image(0x4, 0x2 | 0x40 | 0x200, 0x1 | 0x2);
}

guint8 *fat_image(gboolean fat32) {
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

guint8 *mbr_image(void) {
  guint8 *d = image(4096);
  d[446 + 4] = 0x83; /* one Linux partition entry */
  d[510] = 0x55;
  d[511] = 0xAA;
  return d;
}

/* A disk: sysfs block/NAME with dev, ro and (if given) the serial file
 * @serial_file ("serial", "device/serial") holding @serial; /dev/NAME
 * holding @data. */
void disk(const char *name, const char *devnum, const char *serial_file,
          const char *serial, guint8 *data, gsize len, gboolean read_only) {
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

void partition(const char *disk_name, const char *name, guint number,
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

int mount_fixture_setup(void **state) {
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

int mount_fixture_teardown(void **state) {
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
int fresh_mounts(void **state) {
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

TandemMountConfig config(void) {
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

const MountCall *last_mount(void) {
  assert_true(mount_calls->len > 0);
  return mount_calls->pdata[mount_calls->len - 1];
}

char *dev_path(const char *name) {
  return g_build_filename(devdir, name, NULL);
}

char *mp_path(const char *label) {
  return g_build_filename(base, label, NULL);
}

/* --- TandemMounter's answers ---------------------------------------------- */

void collect(const TpMountResult *r, gpointer data) {
  Collected *c = data;
  assert_true(r->message && *r->message);
  g_ptr_array_add(c->results,
                  g_strdup_printf("%u %s %s%s%s", r->request_id,
                                  tandem_mount_status_to_string(r->status),
                                  r->mountpoint, *r->fs_type ? " " : "",
                                  r->fs_type));
  /* Sizes come with a type, and only with success. */
  assert_true(r->free_bytes <= r->total_bytes);
  assert_true(*r->fs_type ? r->status == TP_MOUNT_OK && r->total_bytes > 0
                          : r->total_bytes == 0);
  c->done = c->results->len >= c->want;
}
