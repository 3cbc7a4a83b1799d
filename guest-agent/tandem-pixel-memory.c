/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-pixel-memory.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tandem-protocol.h"

#define ALIGN 64u
#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

typedef struct {
  guint64 offset, len;
  uint32_t owner, seq;
} Block;

struct _TandemPixelMemory {
  char *path;
  int fd;
  uint8_t *data;
  guint64 size;
  GArray *blocks; /* Block, by offset */
};

/* Maps @path if it holds a Tandem region; NULL (@error set) if not. */
static TandemPixelMemory *map_region(const char *path, GError **error) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot open the shared pixel memory %s: %s", path,
                g_strerror(e));
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  guint64 size = (guint64)st.st_size;
  void *map = size >= 2 * TP_SHM_HEADER_SIZE && size <= G_MAXUINT32
                  ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
  if (map == MAP_FAILED || !tp_shm_header_check(map, size)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s is not Tandem's shared pixel memory (%" G_GUINT64_FORMAT
                " bytes, no header)", path, size);
    if (map != MAP_FAILED)
      munmap(map, size);
    close(fd);
    return NULL;
  }
  TandemPixelMemory *self = g_new0(TandemPixelMemory, 1);
  self->path = g_strdup(path);
  self->fd = fd;
  self->data = map;
  /* The host's size, which may be less than the BAR. */
  memcpy(&self->size, self->data + 16, sizeof(self->size));
  self->size = GUINT64_FROM_LE(self->size);
  self->blocks = g_array_new(FALSE, FALSE, sizeof(Block));
  return self;
}

static gboolean read_hex(const char *dir, const char *file, guint64 *out) {
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return FALSE;
  g_strstrip(text); /* "0x1af4\n" */
  return g_str_has_prefix(text, "0x") &&
         g_ascii_string_to_unsigned(text + 2, 16, 0, G_MAXUINT32, out, NULL);
}

TandemPixelMemory *tandem_pixel_memory_open(const char *path,
                                            const char *sysfs_devices,
                                            GError **error) {
  if (path)
    return map_region(path, error);
  const char *root = sysfs_devices ? sysfs_devices : "/sys/bus/pci/devices";
  g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
  const char *name;
  g_autoptr(GError) last = NULL;
  while (dir && (name = g_dir_read_name(dir))) {
    g_autofree char *dev = g_build_filename(root, name, NULL);
    guint64 vendor = 0, device = 0;
    if (!read_hex(dev, "vendor", &vendor) || vendor != IVSHMEM_VENDOR ||
        !read_hex(dev, "device", &device) || device != IVSHMEM_DEVICE)
      continue;
    /* Write-combined where the kernel offers it: the X server only
     * writes there. */
    static const char *const bars[] = {"resource2_wc", "resource2"};
    for (guint i = 0; i < G_N_ELEMENTS(bars); i++) {
      g_autofree char *bar = g_build_filename(dev, bars[i], NULL);
      if (!g_file_test(bar, G_FILE_TEST_EXISTS))
        continue;
      g_clear_error(&last);
      TandemPixelMemory *self = map_region(bar, &last);
      if (self)
        return self;
    }
  }
  if (last) {
    g_propagate_error(error, g_steal_pointer(&last));
    return NULL;
  }
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
              "no shared pixel memory device (ivshmem) in this system");
  return NULL;
}

void tandem_pixel_memory_free(TandemPixelMemory *self) {
  if (!self)
    return;
  munmap(self->data, self->size);
  close(self->fd);
  g_array_unref(self->blocks);
  g_free(self->path);
  g_free(self);
}

const char *tandem_pixel_memory_get_path(TandemPixelMemory *self) {
  return self->path;
}
int tandem_pixel_memory_get_fd(TandemPixelMemory *self) { return self->fd; }
uint8_t *tandem_pixel_memory_get_data(TandemPixelMemory *self) {
  return self->data;
}
guint64 tandem_pixel_memory_get_size(TandemPixelMemory *self) {
  return self->size;
}

gboolean tandem_pixel_memory_alloc(TandemPixelMemory *self, uint32_t owner,
                                   uint32_t seq, guint64 len,
                                   uint32_t *offset) {
  if (len == 0 || len > self->size)
    return FALSE;
  len = (len + ALIGN - 1) & ~(guint64)(ALIGN - 1);
  guint64 at = TP_SHM_HEADER_SIZE;
  guint i = 0;
  for (; i < self->blocks->len; i++) {
    const Block *b = &g_array_index(self->blocks, Block, i);
    if (b->offset - at >= len)
      break;
    at = b->offset + b->len;
  }
  if (at + len > self->size)
    return FALSE;
  Block nb = {at, len, owner, seq};
  g_array_insert_val(self->blocks, i, nb);
  *offset = (uint32_t)at;
  return TRUE;
}

void tandem_pixel_memory_release(TandemPixelMemory *self, uint32_t owner,
                                 uint32_t seq) {
  for (guint i = self->blocks->len; i-- > 0;) {
    const Block *b = &g_array_index(self->blocks, Block, i);
    /* Sequence numbers wrap: "up to" is within half the space behind. */
    if (b->owner == owner && (uint32_t)(seq - b->seq) < 0x80000000u)
      g_array_remove_index(self->blocks, i);
  }
}

void tandem_pixel_memory_release_owner(TandemPixelMemory *self,
                                       uint32_t owner) {
  for (guint i = self->blocks->len; i-- > 0;)
    if (!owner || g_array_index(self->blocks, Block, i).owner == owner)
      g_array_remove_index(self->blocks, i);
}

guint64 tandem_pixel_memory_get_used(TandemPixelMemory *self) {
  guint64 used = 0;
  for (guint i = 0; i < self->blocks->len; i++)
    used += g_array_index(self->blocks, Block, i).len;
  return used;
}
