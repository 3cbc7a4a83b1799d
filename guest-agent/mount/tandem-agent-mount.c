/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Finding disks by serial, recognising file systems, and the privileged
 * mount and unmount. See tandem-agent-mount.h and docs/mount.md. */
#include "tandem-agent-mount.h"
#include "tandem-agent-mount-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_ATTR 4096u /* sysfs attributes are at most a page */

/* --- Validation ---------------------------------------------------------- */

static gboolean chars_in(const char *s, const char *extra) {
  size_t len = s ? strlen(s) : 0;
  if (len == 0 || len > TP_MAX_SERIAL_LEN)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr(extra, *p))
      return FALSE;
  return TRUE;
}

gboolean tandem_mount_serial_is_valid(const char *serial) {
  return chars_in(serial, "._+@-");
}

gboolean tandem_mount_label_is_valid(const char *label) {
  return chars_in(label, "._-") && strcmp(label, ".") != 0 &&
         strcmp(label, "..") != 0;
}

/* Kernel block device names, as a fixture tree could spell them too. */
static gboolean disk_name_is_sane(const char *name) {
  if (!*name || name[0] == '.' || strlen(name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr("_.:-", *p))
      return FALSE;
  return TRUE;
}

/* --- Small files --------------------------------------------------------- */

/* Up to @max bytes of @path, NUL-terminated (the length in *len); NULL if
 * it cannot be opened or read. */
static char *read_small(const char *path, gsize max, gsize *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return NULL;
  char *buf = g_malloc(max + 1);
  gsize got = 0;
  while (got < max) {
    ssize_t n = read(fd, buf + got, max - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      close(fd);
      g_free(buf);
      return NULL;
    }
    if (n == 0)
      break;
    got += (gsize)n;
  }
  close(fd);
  buf[got] = '\0';
  if (len)
    *len = got;
  return buf;
}

static char *read_attr(const char *dir, const char *name) {
  g_autofree char *path = g_build_filename(dir, name, NULL);
  return read_small(path, MAX_ATTR, NULL);
}

/* A serial from raw bytes: padding (spaces, tabs, newlines, NULs) trimmed
 * at both ends; NULL if it is empty or has a NUL inside. */
static char *trim_serial(const char *data, gsize len) {
  while (len > 0 && (data[len - 1] == '\0' || g_ascii_isspace(data[len - 1])))
    len--;
  while (len > 0 && (data[0] == '\0' || g_ascii_isspace(data[0]))) {
    data++;
    len--;
  }
  if (len == 0 || memchr(data, '\0', len))
    return NULL;
  return g_strndup(data, len);
}

/* SCSI INQUIRY page 0x80 (Unit Serial Number) as sysfs gives it. */
static char *serial_from_vpd80(const char *path) {
  gsize len = 0;
  g_autofree char *page = read_small(path, 4 + 255, &len);
  if (!page || len < 4 || (guint8)page[1] != 0x80)
    return NULL;
  gsize n = ((gsize)(guint8)page[2] << 8) | (guint8)page[3];
  if (n > len - 4)
    n = len - 4;
  return trim_serial(page + 4, n);
}

static char *disk_serial(const char *disk_dir) {
  static const char *const plain[] = {"serial", "device/serial"};
  for (guint i = 0; i < G_N_ELEMENTS(plain); i++) {
    g_autofree char *path = g_build_filename(disk_dir, plain[i], NULL);
    gsize len = 0;
    g_autofree char *raw = read_small(path, MAX_ATTR, &len);
    if (raw)
      return trim_serial(raw, len);
  }
  g_autofree char *vpd = g_build_filename(disk_dir, "device", "vpd_pg80", NULL);
  return serial_from_vpd80(vpd);
}

static gint compare_strings(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of @dir (names only, sorted), or NULL if it cannot be read. */
static GPtrArray *list_dir(const char *dir) {
  GDir *d = g_dir_open(dir, 0, NULL);
  if (!d)
    return NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)))
    g_ptr_array_add(names, g_strdup(name));
  g_dir_close(d);
  g_ptr_array_sort(names, compare_strings);
  return names;
}

/* --- Finding the disk ---------------------------------------------------- */

char *tandem_mount_find_disk(const char *sysfs_root, const char *serial,
                             GError **error) {
  if (!tandem_mount_serial_is_valid(serial)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "“%s” is not a disk serial: use 1 to 64 letters, digits, "
                "“.”, “_”, “+”, “@” or “-”",
                serial ? serial : "");
    return NULL;
  }
  g_autofree char *block = g_build_filename(sysfs_root, "block", NULL);
  g_autoptr(GPtrArray) names = list_dir(block);
  if (!names) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "cannot list the guest's disks (%s is not readable)", block);
    return NULL;
  }
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    if (!disk_name_is_sane(name))
      continue;
    g_autofree char *dir = g_build_filename(block, name, NULL);
    g_autofree char *hidden = read_attr(dir, "hidden");
    if (hidden && hidden[0] == '1') /* an NVMe multipath path */
      continue;
    g_autofree char *s = disk_serial(dir);
    if (s && strcmp(s, serial) == 0)
      g_ptr_array_add(found, g_strdup(name));
  }
  if (found->len == 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "no disk with serial “%s” is attached to the guest", serial);
    return NULL;
  }
  if (found->len > 1) {
    g_ptr_array_add(found, NULL);
    g_autofree char *list = g_strjoinv(", ", (char **)found->pdata);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                "several disks have serial “%s” (%s): give each disk a serial "
                "of its own",
                serial, list);
    return NULL;
  }
  return g_strdup(found->pdata[0]);
}

char *tandem_mount_find_device(const char *sysfs_root, const char *serial,
                               GError **error) {
  g_autofree char *name = tandem_mount_find_disk(sysfs_root, serial, error);
  return name ? g_strconcat("/dev/", name, NULL) : NULL;
}

/* A whole disk or one of its partitions, as sysfs describes it. */
typedef struct {
  char *name;       /* "vda1" */
  guint number;     /* partition number; 0 for the whole disk */
  guint major, minor;
  gboolean has_dev; /* major and minor were readable */
  gboolean read_only;
} BlockDev;

static void block_dev_clear(BlockDev *b) {
  g_free(b->name);
}

static void block_dev_read(BlockDev *b, const char *dir, const char *name,
                           guint number) {
  b->name = g_strdup(name);
  b->number = number;
  g_autofree char *dev = read_attr(dir, "dev");
  b->has_dev = dev && sscanf(dev, "%u:%u", &b->major, &b->minor) == 2;
  g_autofree char *ro = read_attr(dir, "ro");
  b->read_only = ro && ro[0] == '1';
}

static gint compare_partitions(gconstpointer a, gconstpointer b) {
  const BlockDev *x = a, *y = b;
  return x->number < y->number ? -1 : x->number > y->number;
}

/* The disk first, then its partitions in partition order. */
static GArray *disk_and_partitions(const char *sysfs_root, const char *disk) {
  GArray *devs = g_array_new(FALSE, TRUE, sizeof(BlockDev));
  g_array_set_clear_func(devs, (GDestroyNotify)block_dev_clear);
  g_autofree char *dir = g_build_filename(sysfs_root, "block", disk, NULL);
  BlockDev whole = {0};
  block_dev_read(&whole, dir, disk, 0);
  g_array_append_val(devs, whole);
  g_autoptr(GPtrArray) names = list_dir(dir);
  for (guint i = 0; names && i < names->len; i++) {
    const char *name = names->pdata[i];
    if (!g_str_has_prefix(name, disk) || !disk_name_is_sane(name))
      continue;
    g_autofree char *sub = g_build_filename(dir, name, NULL);
    g_autofree char *num = read_attr(sub, "partition");
    guint64 n = 0;
    if (!num || !g_ascii_string_to_unsigned(g_strstrip(num), 10, 1, 65535, &n,
                                            NULL))
      continue;
    BlockDev part = {0};
    block_dev_read(&part, sub, name, (guint)n);
    g_array_append_val(devs, part);
  }
  if (devs->len > 2)
    g_array_sort(devs, compare_partitions); /* the disk (0) stays first */
  return devs;
}

/* File systems without Unix owners: the owner is a mount option. */
static gboolean fs_has_owner_option(TandemFsType type) {
  return type == TANDEM_FS_VFAT || type == TANDEM_FS_EXFAT ||
         type == TANDEM_FS_NTFS;
}

/* --- Results ------------------------------------------------------------- */

/* Valid UTF-8, no control characters (tabs and line breaks become
 * spaces), at most @max bytes. */
char *tam_clean_text(const char *s, gsize max) {
  char *valid = g_utf8_make_valid(s, -1);
  g_strdelimit(valid, "\t\n\r", ' ');
  gsize len = tp_text_sanitize(valid, strlen(valid));
  len = tp_utf8_truncate(valid, len, max);
  valid[len] = '\0';
  return valid;
}

static gboolean path_is_clean(const char *s) {
  size_t len = strlen(s);
  if (len > TP_MAX_PATH_LEN || !tp_utf8_validate(s, len))
    return FALSE;
  for (const char *p = s; *p; p++)
    if ((guint8)*p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

TandemMountResult *tandem_mount_result_new(TpMountStatus status,
                                           const char *mountpoint,
                                           const char *format, ...) {
  TandemMountResult *r = g_new0(TandemMountResult, 1);
  r->status = status <= TP_MOUNT_LAST ? status : TP_MOUNT_FAILED;
  r->mountpoint = g_strdup(mountpoint && path_is_clean(mountpoint)
                               ? mountpoint
                               : "");
  va_list ap;
  va_start(ap, format);
  g_autofree char *msg = g_strdup_vprintf(format, ap);
  va_end(ap);
  r->message = tam_clean_text(msg, TP_MAX_MESSAGE_LEN);
  r->fs_type = g_strdup("");
  return r;
}

void tandem_mount_result_free(TandemMountResult *r) {
  if (!r)
    return;
  g_free(r->mountpoint);
  g_free(r->message);
  g_free(r->fs_type);
  g_free(r);
}

gboolean tandem_mount_fs_type_is_valid(const char *fs_type) {
  size_t len = fs_type ? strlen(fs_type) : 0;
  if (len == 0 || len > TP_MAX_FS_TYPE_LEN)
    return FALSE;
  for (const char *p = fs_type; *p; p++)
    if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p))
      return FALSE;
  return TRUE;
}

void tandem_mount_result_set_fs(TandemMountResult *r, const char *fs_type,
                                guint64 total_bytes, guint64 free_bytes) {
  g_free(r->fs_type);
  if (r->status != TP_MOUNT_OK || !tandem_mount_fs_type_is_valid(fs_type)) {
    r->fs_type = g_strdup("");
    r->total_bytes = r->free_bytes = 0;
    return;
  }
  r->fs_type = g_strdup(fs_type);
  r->total_bytes = total_bytes;
  r->free_bytes = MIN(free_bytes, total_bytes);
}

/* The type and, from statvfs, the size and the space an unprivileged user
 * may still fill of the file system mounted on @mountpoint. */
static TandemMountResult *with_fs(TandemMountResult *r, const char *fs_type,
                                  const char *mountpoint) {
  struct statvfs sv;
  guint64 total = 0, avail = 0;
  if (statvfs(mountpoint, &sv) == 0) {
    guint64 unit = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    total = (guint64)sv.f_blocks * unit;
    avail = (guint64)sv.f_bavail * unit;
  }
  tandem_mount_result_set_fs(r, fs_type, total, avail);
  return r;
}

const char *tandem_mount_status_to_string(TpMountStatus status) {
  switch (status) {
  case TP_MOUNT_OK: return "ok";
  case TP_MOUNT_NOT_FOUND: return "not-found";
  case TP_MOUNT_FAILED: return "failed";
  case TP_MOUNT_BUSY: return "busy";
  case TP_MOUNT_NO_FILESYSTEM: return "no-filesystem";
  }
  return "failed";
}

/* --- Configuration ------------------------------------------------------- */

void tandem_mount_config_init(TandemMountConfig *c) {
  *c = (TandemMountConfig){
      .sysfs_root = "/sys",
      .dev_root = "/dev",
      .base_dir = TANDEM_MOUNT_BASE_DEFAULT,
      .mountinfo = "/proc/self/mountinfo",
      .proc_root = "/proc",
      .owner_uid = getuid(),
      .owner_gid = getgid(),
  };
}

static int call_mount(const TandemMountConfig *c, const char *source,
                      const char *target, const char *fstype,
                      unsigned long flags, const char *data) {
  if (c->mount_fn)
    return c->mount_fn(source, target, fstype, flags, data, c->fn_data);
  return mount(source, target, fstype, flags, data);
}

static int call_umount(const TandemMountConfig *c, const char *target,
                       int flags) {
  if (c->umount_fn)
    return c->umount_fn(target, flags, c->fn_data);
  return umount2(target, flags);
}

/* --- /proc/self/mountinfo ------------------------------------------------ */

typedef struct {
  guint major, minor;
  char *mountpoint; /* unescaped */
  char *fstype;
  char *source;
} MountEntry;

static void mount_entry_clear(MountEntry *e) {
  g_free(e->mountpoint);
  g_free(e->fstype);
  g_free(e->source);
}

/* The kernel writes space, tab, newline and backslash as \ooo. */
static char *unescape(const char *s) {
  GString *out = g_string_sized_new(strlen(s));
  for (const char *p = s; *p; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
        p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
      g_string_append_c(out,
                        (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 |
                               (p[3] - '0')));
      p += 3;
    } else {
      g_string_append_c(out, *p);
    }
  }
  return g_string_free(out, FALSE);
}

static GArray *read_mountinfo(const char *path, GError **error) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, error))
    return NULL;
  GArray *entries = g_array_new(FALSE, TRUE, sizeof(MountEntry));
  g_array_set_clear_func(entries, (GDestroyNotify)mount_entry_clear);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto(GStrv) f = g_strsplit(*l, " ", -1);
    guint n = g_strv_length(f);
    guint sep = 6;
    while (sep < n && strcmp(f[sep], "-") != 0)
      sep++;
    if (n < 6 || sep + 2 >= n)
      continue;
    MountEntry e = {0};
    if (sscanf(f[2], "%u:%u", &e.major, &e.minor) != 2)
      continue;
    e.mountpoint = unescape(f[4]);
    e.fstype = g_strdup(f[sep + 1]);
    e.source = unescape(f[sep + 2]);
    g_array_append_val(entries, e);
  }
  return entries;
}

static gboolean entry_is_dev(const MountEntry *e, const BlockDev *b,
                             const char *dev_path) {
  return (b->has_dev && e->major == b->major && e->minor == b->minor) ||
         strcmp(e->source, dev_path) == 0;
}

/* --- Directories --------------------------------------------------------- */

/* The base directory, created (0755) if needed and checked: a real
 * directory of ours that nobody else can write, so no one can swap a
 * mount point for a symlink. Returns its canonical path. */
static char *prepare_base(const char *base, GError **error) {
  if (!g_path_is_absolute(base)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "the mount base %s is not an absolute path", base);
    return NULL;
  }
  /* Each missing component, made 0755 whatever the umask. */
  g_auto(GStrv) parts = g_strsplit(base, "/", -1);
  g_autoptr(GString) path = g_string_new("");
  for (char **p = parts; *p; p++) {
    if (!**p)
      continue;
    g_string_append_printf(path, "/%s", *p);
    if (mkdir(path->str, 0755) == 0)
      chmod(path->str, 0755);
    else if (errno != EEXIST) {
      int e = errno;
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                  "cannot create %s: %s", path->str, g_strerror(e));
      return NULL;
    }
  }
  char *real = realpath(base, NULL);
  if (!real) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "cannot resolve %s: %s", base, g_strerror(e));
    return NULL;
  }
  struct stat st;
  if (lstat(real, &st) != 0 || !S_ISDIR(st.st_mode) ||
      st.st_uid != geteuid() || (st.st_mode & 022)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                "%s is not a directory of uid %u that only it can write: "
                "not mounting there",
                real, (unsigned)geteuid());
    free(real);
    return NULL;
  }
  char *out = g_strdup(real);
  free(real);
  return out;
}

/* Whether @dir holds nothing but perhaps lost+found. */
static gboolean dir_is_fresh(const char *dir) {
  GDir *d = g_dir_open(dir, 0, NULL);
  if (!d)
    return FALSE;
  gboolean fresh = TRUE;
  const char *name;
  while ((name = g_dir_read_name(d)))
    if (strcmp(name, "lost+found") != 0)
      fresh = FALSE;
  g_dir_close(d);
  return fresh;
}

/* --- Mount --------------------------------------------------------------- */

static const char *mount_errno_hint(int e) {
  switch (e) {
  case ENODEV: return "the guest's kernel has no driver for this file system";
  case EACCES:
  case EROFS: return "the disk is read-only: mount it read-only";
  case EPERM:
    return "only root may mount: the agent needs tandem-mount-helper "
           "running as root";
  case ENOTBLK: return "it is not a block device";
  case EBUSY: return "the disk is in use (mounted elsewhere or opened "
                     "exclusively)";
  case EINVAL:
  case EUCLEAN:
  case EBADMSG:
  case EIO:
    return "the file system may be damaged or use features this kernel "
           "lacks: check it with fsck where the disk was made";
  default: return NULL;
  }
}

/* Which device to mount: the first partition with a known file system, else
 * the whole disk if it has one. Returns the index in @devs or -1 (a result
 * explaining why in *why). */
static int choose_source(const TandemMountConfig *c, GArray *devs,
                         const char *serial, TandemFsType *type,
                         TandemMountResult **why) {
  const BlockDev *whole = &g_array_index(devs, BlockDev, 0);
  g_autoptr(GString) seen = g_string_new("");
  g_autofree guint8 *buf = g_malloc(TANDEM_MOUNT_PROBE_BYTES);
  int unmountable = -1;
  TandemFsType unmountable_type = TANDEM_FS_UNKNOWN;
  gboolean read_all = TRUE; /* else it may be an I/O error, not a blank */
  /* Partitions first (index 1...), then the whole disk (index 0). */
  for (guint k = 1; k <= devs->len; k++) {
    guint i = k % devs->len;
    const BlockDev *b = &g_array_index(devs, BlockDev, i);
    g_autofree char *path = g_build_filename(c->dev_root, b->name, NULL);
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    if (!tam_read_start(path, buf, &len, &error)) {
      read_all = FALSE;
      g_string_append_printf(seen, "%s%s", seen->len ? "; " : "",
                             error->message);
      continue;
    }
    TandemFsType t = tandem_mount_probe_bytes(buf, len);
    if (t != TANDEM_FS_UNKNOWN && tandem_fs_type_kernel_name(t)) {
      *type = t;
      return (int)i;
    }
    if (t != TANDEM_FS_UNKNOWN && unmountable < 0) {
      unmountable = (int)i;
      unmountable_type = t;
    }
    if (i == 0 && devs->len == 1 && t == TANDEM_FS_UNKNOWN &&
        tandem_mount_bytes_have_partition_table(buf, len))
      g_string_append_printf(seen, "%s%s has a partition table but the kernel "
                             "shows no partitions",
                             seen->len ? "; " : "", whole->name);
  }
  /* Every device read and none mountable: the disk has no file system.
   * Nothing was written to it. */
  TpMountStatus none = read_all ? TP_MOUNT_NO_FILESYSTEM : TP_MOUNT_FAILED;
  if (unmountable >= 0) {
    const BlockDev *b = &g_array_index(devs, BlockDev, unmountable);
    *why = tandem_mount_result_new(
        none, "",
        "The disk with serial %s holds no file system to mount: /dev/%s is "
        "%s. Nothing was changed on it. Format it (or a partition of it) "
        "with a file system first.",
        serial, b->name, tandem_fs_type_to_string(unmountable_type));
  } else if (devs->len > 1) {
    *why = tandem_mount_result_new(
        none, "",
        "None of the %u partitions of /dev/%s (serial %s) holds a file system "
        "this guest knows (ext2/3/4, vfat, exFAT, NTFS, XFS, Btrfs, ISO "
        "9660)%s%s. Nothing was changed on it. Format one of them first.",
        devs->len - 1, whole->name, serial, seen->len ? ": " : "", seen->str);
  } else {
    *why = tandem_mount_result_new(
        none, "",
        "/dev/%s (serial %s) holds no file system this guest knows (ext2/3/4, "
        "vfat, exFAT, NTFS, XFS, Btrfs, ISO 9660)%s%s. Nothing was changed "
        "on it. Format it first (a new, empty disk is blank).",
        whole->name, serial, seen->len ? ": " : "", seen->str);
  }
  return -1;
}

TandemMountResult *tandem_mount_do_mount(const TandemMountConfig *c,
                                         const char *serial,
                                         const char *label,
                                         gboolean read_only) {
  if (!tandem_mount_label_is_valid(label))
    return tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "“%s” cannot be a mount label: use 1 to 64 letters, digits, “.”, "
        "“_” or “-” (not “.” or “..”).",
        label ? label : "");
  g_autoptr(GError) error = NULL;
  g_autofree char *disk = tandem_mount_find_disk(c->sysfs_root, serial, &error);
  if (!disk) {
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
      return tandem_mount_result_new(
          TP_MOUNT_NOT_FOUND, "",
          "%c%s. Attach it first, or check the serial.",
          g_ascii_toupper(error->message[0]), error->message + 1);
    return tandem_mount_result_new(TP_MOUNT_FAILED, "", "Cannot mount: %s.",
                                   error->message);
  }
  g_autoptr(GArray) devs = disk_and_partitions(c->sysfs_root, disk);
  g_autoptr(GArray) mounts = read_mountinfo(c->mountinfo, &error);
  if (!mounts)
    return tandem_mount_result_new(TP_MOUNT_FAILED, "",
                                   "Cannot read the mount table: %s.",
                                   error->message);
  g_autofree char *base = prepare_base(c->base_dir, &error);
  if (!base)
    return tandem_mount_result_new(TP_MOUNT_FAILED, "",
                                   "Cannot prepare mount points: %s.",
                                   error->message);
  g_autofree char *mp = g_build_filename(base, label, NULL);

  /* Already mounted: here (fine), elsewhere, or the label is taken. */
  for (guint i = 0; i < mounts->len; i++) {
    const MountEntry *e = &g_array_index(mounts, MountEntry, i);
    for (guint j = 0; j < devs->len; j++) {
      const BlockDev *b = &g_array_index(devs, BlockDev, j);
      g_autofree char *dev_path = g_build_filename(c->dev_root, b->name, NULL);
      if (!entry_is_dev(e, b, dev_path))
        continue;
      if (strcmp(e->mountpoint, mp) == 0)
        return with_fs(tandem_mount_result_new(TP_MOUNT_OK, mp,
                                               "/dev/%s (serial %s) is "
                                               "already mounted on %s.",
                                               b->name, serial, mp),
                       e->fstype, mp);
      return tandem_mount_result_new(
          TP_MOUNT_FAILED, "",
          "/dev/%s (serial %s) is already mounted on %s: use that, or "
          "unmount it there first.",
          b->name, serial, e->mountpoint);
    }
  }
  for (guint i = 0; i < mounts->len; i++) {
    const MountEntry *e = &g_array_index(mounts, MountEntry, i);
    if (strcmp(e->mountpoint, mp) == 0)
      return tandem_mount_result_new(
          TP_MOUNT_FAILED, "",
          "The label %s is taken: %s is mounted on %s. Choose another "
          "label, or unmount that disk first.",
          label, e->source, mp);
  }

  TandemFsType type = TANDEM_FS_UNKNOWN;
  TandemMountResult *why = NULL;
  int pick = choose_source(c, devs, serial, &type, &why);
  if (pick < 0)
    return why;
  const BlockDev *src = &g_array_index(devs, BlockDev, pick);
  g_autofree char *source = g_build_filename(c->dev_root, src->name, NULL);
  g_autofree char *what =
      src->number ? g_strdup_printf("%s (%s, partition %u of serial %s)",
                                    source, tandem_fs_type_to_string(type),
                                    src->number, serial)
                  : g_strdup_printf("%s (%s, serial %s)", source,
                                    tandem_fs_type_to_string(type), serial);
  if (!read_only && (src->read_only || type == TANDEM_FS_ISO9660))
    return tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "%s is read-only: mount it read-only.", what);

  /* The mount point: a new empty directory, or an empty one left over. */
  if (mkdir(mp, 0755) == 0) {
    chmod(mp, 0755);
  } else if (errno != EEXIST || g_rmdir(mp) != 0 || mkdir(mp, 0755) != 0) {
    int e = errno;
    return tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "Cannot make the mount point %s: %s. Remove what is there, or "
        "choose another label.",
        mp, g_strerror(e));
  } else {
    chmod(mp, 0755);
  }

  unsigned long flags = MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
  g_autofree char *data =
      fs_has_owner_option(type)
          ? g_strdup_printf("uid=%u,gid=%u,umask=022", (unsigned)c->owner_uid,
                            (unsigned)c->owner_gid)
          : NULL;
  if (call_mount(c, source, mp, tandem_fs_type_kernel_name(type), flags,
                 data) != 0) {
    int e = errno;
    g_rmdir(mp);
    const char *hint = mount_errno_hint(e);
    return tandem_mount_result_new(
        e == EBUSY ? TP_MOUNT_BUSY : TP_MOUNT_FAILED, "",
        "Cannot mount %s on %s: %s%s%s.", what, mp, g_strerror(e),
        hint ? "; " : "", hint ? hint : "");
  }

  /* A new writable file system's top directory belongs to root: give it
   * to the session user while it is still empty. */
  const char *given = "";
  struct stat st;
  if (!read_only && !fs_has_owner_option(type) && stat(mp, &st) == 0 &&
      st.st_uid != c->owner_uid && dir_is_fresh(mp)) {
    if (chown(mp, c->owner_uid, c->owner_gid) == 0)
      given = " Its empty top directory now belongs to the session user.";
  }
  return with_fs(tandem_mount_result_new(TP_MOUNT_OK, mp,
                                         "Mounted %s %s on %s.%s", what,
                                         read_only ? "read-only"
                                                   : "read-write",
                                         mp, given),
                 tandem_fs_type_kernel_name(type), mp);
}

/* --- Unmount ------------------------------------------------------------- */

static char *users_text(const char *proc_root, const char *path) {
  gboolean more = FALSE;
  g_auto(GStrv) users = tandem_mount_scan_users(proc_root, path, NULL, &more);
  if (!users[0])
    return g_strdup("");
  g_autofree char *list = g_strjoinv(", ", users);
  return g_strdup_printf("in use by: %s%s", list,
                         more ? " and maybe others" : "");
}

/* The mount points of the disk with @serial (and its partitions): ours,
 * directly under the base, and the system's. NULL on success, else the
 * answer (not found, unreadable mount table). */
static TandemMountResult *disk_mounts(const TandemMountConfig *c,
                                      const char *serial, char **disk_out,
                                      GPtrArray *ours, GPtrArray *theirs) {
  g_autoptr(GError) error = NULL;
  g_autofree char *disk = tandem_mount_find_disk(c->sysfs_root, serial, &error);
  if (!disk) {
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
      return tandem_mount_result_new(
          TP_MOUNT_NOT_FOUND, "", "%c%s: there is nothing to unmount.",
          g_ascii_toupper(error->message[0]), error->message + 1);
    return tandem_mount_result_new(TP_MOUNT_FAILED, "", "Cannot unmount: %s.",
                                   error->message);
  }
  g_autoptr(GArray) devs = disk_and_partitions(c->sysfs_root, disk);
  g_autoptr(GArray) mounts = read_mountinfo(c->mountinfo, &error);
  if (!mounts)
    return tandem_mount_result_new(TP_MOUNT_FAILED, "",
                                   "Cannot read the mount table: %s.",
                                   error->message);
  /* The base as the kernel spells it (no symlinks); a missing base means
   * nothing of ours is mounted. */
  char *real = realpath(c->base_dir, NULL);
  g_autofree char *base = g_strdup(real ? real : c->base_dir);
  free(real);
  for (guint i = 0; i < mounts->len; i++) {
    const MountEntry *e = &g_array_index(mounts, MountEntry, i);
    for (guint j = 0; j < devs->len; j++) {
      const BlockDev *b = &g_array_index(devs, BlockDev, j);
      g_autofree char *dev_path = g_build_filename(c->dev_root, b->name, NULL);
      if (!entry_is_dev(e, b, dev_path))
        continue;
      g_autofree char *parent = g_path_get_dirname(e->mountpoint);
      if (strcmp(parent, base) == 0 && strcmp(e->mountpoint, base) != 0)
        g_ptr_array_add(ours, g_strdup(e->mountpoint));
      else
        g_ptr_array_add(theirs, g_strdup(e->mountpoint));
      break;
    }
  }
  *disk_out = g_steal_pointer(&disk);
  return NULL;
}

/* syncfs on the file system mounted on @mp; FALSE if it could not. */
static gboolean sync_mount(const char *mp) {
  int fd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  gboolean ok = syncfs(fd) == 0;
  close(fd);
  return ok;
}

guint tandem_mount_sync_disk(const TandemMountConfig *c, const char *serial) {
  g_autoptr(GPtrArray) ours = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) theirs = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *disk = NULL;
  g_autoptr(TandemMountResult) why = disk_mounts(c, serial, &disk, ours, theirs);
  if (why)
    return 0;
  guint synced = 0;
  for (guint k = 0; k < ours->len; k++)
    synced += sync_mount(ours->pdata[k]);
  for (guint k = 0; k < theirs->len; k++)
    synced += sync_mount(theirs->pdata[k]);
  return synced;
}

TandemMountResult *tandem_mount_do_unmount(const TandemMountConfig *c,
                                           const char *serial,
                                           gboolean lazy) {
  g_autoptr(GPtrArray) ours = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) theirs = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *disk = NULL;
  TandemMountResult *why = disk_mounts(c, serial, &disk, ours, theirs);
  if (why)
    return why;
  if (ours->len == 0 && theirs->len == 0)
    return tandem_mount_result_new(
        TP_MOUNT_OK, "", "/dev/%s (serial %s) is not mounted.", disk, serial);
  if (ours->len == 0)
    return tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "/dev/%s (serial %s) is mounted on %s by the guest system, not by "
        "Tandem: not unmounting it. Do not detach it while it is in use.",
        disk, serial, (char *)theirs->pdata[0]);

  /* Newest mount first, in case of stacking. */
  const char *last = NULL;
  gboolean synced = TRUE;
  g_autoptr(GString) still = g_string_new("");
  for (guint k = ours->len; k-- > 0;) {
    const char *mp = ours->pdata[k];
    synced &= sync_mount(mp);
    if (lazy) {
      /* Who goes on using it, before the path is gone from their view. */
      g_autofree char *users = users_text(c->proc_root, mp);
      if (*users)
        g_string_append_printf(still, "%s%s %s", still->len ? "; " : "", mp,
                               users);
    }
    if (call_umount(c, mp, lazy ? MNT_DETACH : 0) != 0) {
      int e = errno;
      if (e == EBUSY) {
        g_autofree char *users = users_text(c->proc_root, mp);
        return tandem_mount_result_new(
            TP_MOUNT_BUSY, "",
            "%s is %s. Close the files and programs using it (or leave that "
            "directory), then unmount again. Nothing was detached.",
            mp, *users ? users : "in use");
      }
      return tandem_mount_result_new(TP_MOUNT_FAILED, "",
                                     "Cannot unmount %s: %s.", mp,
                                     g_strerror(e));
    }
    if (g_rmdir(mp) != 0 && errno != ENOENT)
      g_debug("cannot remove %s: %s", mp, g_strerror(errno));
    last = mp;
  }
  if (theirs->len > 0)
    return tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "Unmounted %s, but /dev/%s (serial %s) is still mounted on %s by the "
        "guest system: do not detach it.",
        last, disk, serial, (char *)theirs->pdata[0]);
  if (lazy && still->len)
    return tandem_mount_result_new(
        TP_MOUNT_OK, last,
        "%s /dev/%s (serial %s), then detached %s lazily although %s: what "
        "was written so far is on the disk, what those programs write from "
        "now on is lost when the disk goes.",
        synced ? "Synced" : "Tried to sync", disk, serial, last, still->str);
  if (lazy)
    return tandem_mount_result_new(
        TP_MOUNT_OK, last,
        "%s /dev/%s (serial %s), then detached %s lazily; no program was "
        "using it. It can be detached.",
        synced ? "Synced" : "Tried to sync", disk, serial, last);
  return tandem_mount_result_new(
      TP_MOUNT_OK, last,
      "Unmounted /dev/%s (serial %s) from %s; everything was written to the "
      "disk. It can be detached.",
      disk, serial, last);
}
