/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-pixel-region.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct _TandemPixelRegion {
  gint refs;
  char *path;
  const uint8_t *data;
  guint64 size;
  dev_t dev;      /* the file made, so that only it is removed */
  ino_t ino;
};

static gboolean fail(GError **error, const char *path, int e,
                     const char *what) {
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
              "Cannot %s the shared pixel memory %s: %s", what, path,
              g_strerror(e));
  return FALSE;
}

TandemPixelRegion *tandem_pixel_region_create(const char *path, guint64 size,
                                              GError **error) {
  g_return_val_if_fail(size >= 2 * TP_SHM_HEADER_SIZE, NULL);
  g_unlink(path); /* a file left by a crashed shell: start afresh */
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                0600);
  if (fd < 0) {
    fail(error, path, errno, "create");
    return NULL;
  }
  uint8_t header[TP_SHM_HEADER_SIZE];
  tp_shm_header_write(header, size);
  void *map = MAP_FAILED;
  struct stat st;
  if (fstat(fd, &st) != 0 || ftruncate(fd, (off_t)size) != 0 ||
      pwrite(fd, header, sizeof(header), 0) != (ssize_t)sizeof(header) ||
      (map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
    int e = errno;
    close(fd);
    g_unlink(path);
    fail(error, path, e ? e : EIO, "make");
    return NULL;
  }
  close(fd);
  TandemPixelRegion *self = g_new0(TandemPixelRegion, 1);
  self->refs = 1;
  self->path = g_strdup(path);
  self->data = map;
  self->size = size;
  self->dev = st.st_dev;
  self->ino = st.st_ino;
  return self;
}

TandemPixelRegion *tandem_pixel_region_ref(TandemPixelRegion *self) {
  g_atomic_int_inc(&self->refs);
  return self;
}

void tandem_pixel_region_unref(TandemPixelRegion *self) {
  if (!self || !g_atomic_int_dec_and_test(&self->refs))
    return;
  munmap((void *)self->data, self->size);
  /* A proxy may outlive its VM's run, and the next run has made a new
   * file at the same path by then: leave that one. */
  struct stat st;
  if (lstat(self->path, &st) == 0 && st.st_dev == self->dev &&
      st.st_ino == self->ino)
    g_unlink(self->path);
  g_free(self->path);
  g_free(self);
}

guint64 tandem_pixel_region_get_size(TandemPixelRegion *self) {
  return self->size;
}

const uint8_t *tandem_pixel_region_locate(TandemPixelRegion *self,
                                          const TpRect *rect, size_t *stride,
                                          TpError *err) {
  TpShmRef ref;
  *err = tp_shm_ref_read(rect, self->size, &ref);
  if (*err)
    return NULL;
  *stride = ref.stride;
  return self->data + ref.offset;
}
