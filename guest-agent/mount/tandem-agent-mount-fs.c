/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Recognising file systems by their superblocks (never blkid, never a
 * shell): tandem_mount_probe_bytes() and its kin in tandem-agent-mount.h. */
#include "tandem-agent-mount.h"
#include "tandem-agent-mount-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* --- File systems -------------------------------------------------------- */

static guint16 le16(const guint8 *p) {
  return (guint16)(p[0] | p[1] << 8);
}

static guint32 le32(const guint8 *p) {
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 |
         (guint32)p[3] << 24;
}

static gboolean has_at(const guint8 *data, gsize len, gsize off,
                       const char *magic, gsize n) {
  return off + n <= len && memcmp(data + off, magic, n) == 0;
}

#define EXT_SB 1024u
#define EXT3_COMPAT_HAS_JOURNAL 0x4u
#define EXT3_INCOMPAT_JOURNAL_DEV 0x8u
/* Features ext3 knows; anything else is ext4's. */
#define EXT3_INCOMPAT_KNOWN (0x2u | 0x4u | 0x8u | 0x10u)
#define EXT3_RO_COMPAT_KNOWN (0x1u | 0x2u | 0x4u)

static TandemFsType probe_ext(const guint8 *d, gsize len) {
  if (len < EXT_SB + 0x68 || le16(d + EXT_SB + 0x38) != 0xEF53)
    return TANDEM_FS_UNKNOWN;
  guint32 compat = le32(d + EXT_SB + 0x5C);
  guint32 incompat = le32(d + EXT_SB + 0x60);
  guint32 ro_compat = le32(d + EXT_SB + 0x64);
  if (incompat & EXT3_INCOMPAT_JOURNAL_DEV)
    return TANDEM_FS_EXT_JOURNAL;
  if ((incompat & ~EXT3_INCOMPAT_KNOWN) || (ro_compat & ~EXT3_RO_COMPAT_KNOWN))
    return TANDEM_FS_EXT4;
  return compat & EXT3_COMPAT_HAS_JOURNAL ? TANDEM_FS_EXT3 : TANDEM_FS_EXT2;
}

/* A FAT boot sector: a jump, a sane BIOS parameter block, the signature. */
static gboolean probe_fat(const guint8 *d, gsize len) {
  if (len < 512 || d[510] != 0x55 || d[511] != 0xAA)
    return FALSE;
  if (d[0] != 0xEB && d[0] != 0xE9)
    return FALSE;
  guint16 bytes_per_sector = le16(d + 11);
  guint8 per_cluster = d[13];
  guint16 reserved = le16(d + 14);
  guint8 fats = d[16];
  if (bytes_per_sector != 512 && bytes_per_sector != 1024 &&
      bytes_per_sector != 2048 && bytes_per_sector != 4096)
    return FALSE;
  if (per_cluster == 0 || (per_cluster & (per_cluster - 1)) != 0)
    return FALSE;
  if (reserved == 0 || fats == 0 || fats > 4)
    return FALSE;
  /* The type string is only a hint, but every formatter writes one. */
  return has_at(d, len, 54, "FAT", 3) || has_at(d, len, 82, "FAT", 3) ||
         has_at(d, len, 54, "MSDOS", 5);
}

TandemFsType tandem_mount_probe_bytes(const guint8 *data, gsize len) {
  if (!data)
    return TANDEM_FS_UNKNOWN;
  TandemFsType ext = probe_ext(data, len);
  if (ext != TANDEM_FS_UNKNOWN)
    return ext;
  if (has_at(data, len, 0, "XFSB", 4))
    return TANDEM_FS_XFS;
  if (has_at(data, len, 0x10040, "_BHRfS_M", 8))
    return TANDEM_FS_BTRFS;
  if (has_at(data, len, 3, "EXFAT   ", 8))
    return TANDEM_FS_EXFAT;
  if (has_at(data, len, 3, "NTFS    ", 8))
    return TANDEM_FS_NTFS;
  if (probe_fat(data, len))
    return TANDEM_FS_VFAT;
  if (has_at(data, len, 0x8001, "CD001", 5))
    return TANDEM_FS_ISO9660;
  if (has_at(data, len, 4086, "SWAPSPACE2", 10) ||
      has_at(data, len, 4086, "SWAP-SPACE", 10))
    return TANDEM_FS_SWAP;
  return TANDEM_FS_UNKNOWN;
}

gboolean tandem_mount_bytes_have_partition_table(const guint8 *data,
                                                 gsize len) {
  return has_at(data, len, 512, "EFI PART", 8) ||
         (len >= 512 && data[510] == 0x55 && data[511] == 0xAA);
}

/* Reads the start of @path into @buf (TANDEM_MOUNT_PROBE_BYTES). */
gboolean tam_read_start(const char *path, guint8 *buf, gsize *len,
                        GError **error) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "cannot open %s: %s", path, g_strerror(e));
    return FALSE;
  }
  gsize got = 0;
  while (got < TANDEM_MOUNT_PROBE_BYTES) {
    ssize_t n = pread(fd, buf + got, TANDEM_MOUNT_PROBE_BYTES - got,
                      (off_t)got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                  "cannot read %s: %s", path, g_strerror(e));
      return FALSE;
    }
    if (n == 0)
      break;
    got += (gsize)n;
  }
  close(fd);
  *len = got;
  return TRUE;
}

TandemFsType tandem_mount_probe_file(const char *path, GError **error) {
  g_autofree guint8 *buf = g_malloc(TANDEM_MOUNT_PROBE_BYTES);
  gsize len = 0;
  if (!tam_read_start(path, buf, &len, error))
    return TANDEM_FS_UNKNOWN;
  return tandem_mount_probe_bytes(buf, len);
}

const char *tandem_fs_type_to_string(TandemFsType type) {
  switch (type) {
  case TANDEM_FS_EXT2: return "ext2";
  case TANDEM_FS_EXT3: return "ext3";
  case TANDEM_FS_EXT4: return "ext4";
  case TANDEM_FS_VFAT: return "vfat";
  case TANDEM_FS_EXFAT: return "exfat";
  case TANDEM_FS_NTFS: return "ntfs";
  case TANDEM_FS_XFS: return "xfs";
  case TANDEM_FS_BTRFS: return "btrfs";
  case TANDEM_FS_ISO9660: return "iso9660";
  case TANDEM_FS_SWAP: return "swap";
  case TANDEM_FS_EXT_JOURNAL: return "ext journal";
  case TANDEM_FS_UNKNOWN: break;
  }
  return "unknown";
}

const char *tandem_fs_type_kernel_name(TandemFsType type) {
  switch (type) {
  case TANDEM_FS_EXT2:
  case TANDEM_FS_EXT3:
  case TANDEM_FS_EXT4: return "ext4";
  case TANDEM_FS_VFAT: return "vfat";
  case TANDEM_FS_EXFAT: return "exfat";
  case TANDEM_FS_NTFS: return "ntfs3";
  case TANDEM_FS_XFS: return "xfs";
  case TANDEM_FS_BTRFS: return "btrfs";
  case TANDEM_FS_ISO9660: return "iso9660";
  case TANDEM_FS_SWAP:
  case TANDEM_FS_EXT_JOURNAL:
  case TANDEM_FS_UNKNOWN: break;
  }
  return NULL;
}

