/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The agent's side of the shared pixel region: finding it (a file, or an
 * ivshmem device in a sysfs tree made by the test), refusing memory
 * without the host's header, and handing out space for frames in flight
 * that never overlaps and comes back when acknowledged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem-pixel-memory.h"
#include "tandem-protocol.h"

#define SIZE (1u << 20)

static char *tmp;

static char *make_region(const char *name, guint64 size, gboolean header) {
  char *path = g_build_filename(tmp, name, NULL);
  char *data = g_malloc0(size);
  if (header)
    tp_shm_header_write((uint8_t *)data, size);
  assert_true(g_file_set_contents(path, data, (gssize)size, NULL));
  g_free(data);
  return path;
}

static void test_file(void **state) {
  g_autofree char *path = make_region("pixels", SIZE, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemPixelMemory) pm = tandem_pixel_memory_open(path, NULL,
                                                             &error);
  assert_non_null(pm);
  assert_int_equal(tandem_pixel_memory_get_size(pm), SIZE);
  assert_true(tandem_pixel_memory_get_fd(pm) >= 0);
  /* What we write there is what the host reads from the file. */
  uint32_t at;
  assert_true(tandem_pixel_memory_alloc(pm, 1, 1, 4, &at));
  memcpy(tandem_pixel_memory_get_data(pm) + at, "BGRA", 4);
  g_autofree char *back = NULL;
  assert_true(g_file_get_contents(path, &back, NULL, NULL));
  assert_memory_equal(back + at, "BGRA", 4);
}

static void test_no_header_refused(void **state) {
  g_autofree char *path = make_region("plain", SIZE, FALSE);
  g_autoptr(GError) error = NULL;
  assert_null(tandem_pixel_memory_open(path, NULL, &error));
  assert_non_null(strstr(error->message, "not Tandem's"));
  g_autofree char *small = make_region("small", TP_SHM_HEADER_SIZE, TRUE);
  g_clear_error(&error);
  assert_null(tandem_pixel_memory_open(small, NULL, &error));
  g_clear_error(&error);
  assert_null(tandem_pixel_memory_open("/nonexistent/pixels", NULL, &error));
}

/* A header claiming more than is mapped is refused: the agent would
 * otherwise write past the end. */
static void test_header_larger_than_memory(void **state) {
  g_autofree char *path = g_build_filename(tmp, "liar", NULL);
  g_autofree char *data = g_malloc0(SIZE);
  tp_shm_header_write((uint8_t *)data, (guint64)SIZE * 2);
  assert_true(g_file_set_contents(path, data, SIZE, NULL));
  g_autoptr(GError) error = NULL;
  assert_null(tandem_pixel_memory_open(path, NULL, &error));
}

static void make_device(const char *root, const char *slot,
                        const char *vendor, const char *device,
                        gboolean header) {
  g_autofree char *dir = g_build_filename(root, slot, NULL);
  assert_int_equal(g_mkdir_with_parents(dir, 0700), 0);
  g_autofree char *v = g_build_filename(dir, "vendor", NULL);
  g_autofree char *d = g_build_filename(dir, "device", NULL);
  assert_true(g_file_set_contents(v, vendor, -1, NULL));
  assert_true(g_file_set_contents(d, device, -1, NULL));
  g_autofree char *name = g_build_filename("sysfs", slot, "resource2", NULL);
  g_free(make_region(name, SIZE, header));
}

static void test_sysfs_scan(void **state) {
  g_autofree char *root = g_build_filename(tmp, "sysfs", NULL);
  g_autoptr(GError) error = NULL;
  /* Nothing there: not found, which is ordinary (no device). */
  assert_int_equal(g_mkdir_with_parents(root, 0700), 0);
  assert_null(tandem_pixel_memory_open(NULL, root, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error(&error);
  /* Another vendor's device, and an ivshmem device someone else uses
   * (no header): neither is taken. */
  make_device(root, "0000:00:02.0", "0x8086\n", "0x1110\n", TRUE);
  make_device(root, "0000:00:03.0", "0x1af4\n", "0x1110\n", FALSE);
  assert_null(tandem_pixel_memory_open(NULL, root, &error));
  g_clear_error(&error);
  make_device(root, "0000:00:04.0", "0x1af4\n", "0x1110\n", TRUE);
  g_autoptr(TandemPixelMemory) pm = tandem_pixel_memory_open(NULL, root,
                                                             &error);
  assert_non_null(pm);
  assert_non_null(strstr(tandem_pixel_memory_get_path(pm), "00:04.0"));
}

static void test_allocator(void **state) {
  g_autofree char *path = make_region("alloc", SIZE, TRUE);
  g_autoptr(TandemPixelMemory) pm = tandem_pixel_memory_open(path, NULL,
                                                             NULL);
  assert_non_null(pm);
  uint32_t a, b, c, d;
  const guint64 room = SIZE - TP_SHM_HEADER_SIZE;
  assert_true(tandem_pixel_memory_alloc(pm, 1, 1, 1000, &a));
  assert_int_equal(a, TP_SHM_HEADER_SIZE); /* never the header */
  assert_true(tandem_pixel_memory_alloc(pm, 2, 1, 100, &b));
  assert_true(b >= a + 1000 && b % 64 == 0);
  assert_true(tandem_pixel_memory_alloc(pm, 1, 2, 64, &c));
  assert_true(c >= b + 100);
  /* Too large for what is left, or for the whole: the channel then. */
  assert_false(tandem_pixel_memory_alloc(pm, 3, 1, room, &d));
  assert_false(tandem_pixel_memory_alloc(pm, 3, 1, (guint64)SIZE * 4, &d));
  assert_false(tandem_pixel_memory_alloc(pm, 3, 1, 0, &d));
  /* Window 1's frame 1 acknowledged: its space is reused first; frame 2
   * is still in flight. */
  tandem_pixel_memory_release(pm, 1, 1);
  assert_true(tandem_pixel_memory_alloc(pm, 3, 1, 512, &d));
  assert_int_equal(d, a);
  /* An acknowledgement of window 2 frees only window 2's. */
  guint64 used = tandem_pixel_memory_get_used(pm);
  tandem_pixel_memory_release(pm, 2, 5);
  assert_int_equal(tandem_pixel_memory_get_used(pm), used - 128);
  /* A window gone, then everyone (a new host). */
  tandem_pixel_memory_release_owner(pm, 1);
  assert_int_equal(tandem_pixel_memory_get_used(pm), 512);
  tandem_pixel_memory_release_owner(pm, 0);
  assert_int_equal(tandem_pixel_memory_get_used(pm), 0);
  /* Empty again: all of it in one piece. */
  assert_true(tandem_pixel_memory_alloc(pm, 1, 9, room, &a));
}

/* Sequence numbers wrap: an acknowledgement just past the wrap frees a
 * frame from just before it, and one from far behind frees nothing. */
static void test_release_wraps(void **state) {
  g_autofree char *path = make_region("wrap", SIZE, TRUE);
  g_autoptr(TandemPixelMemory) pm = tandem_pixel_memory_open(path, NULL,
                                                             NULL);
  uint32_t a;
  assert_true(tandem_pixel_memory_alloc(pm, 1, 0xffffffffu, 64, &a));
  tandem_pixel_memory_release(pm, 1, 0xfffffff0u); /* an older frame */
  assert_int_equal(tandem_pixel_memory_get_used(pm), 64);
  tandem_pixel_memory_release(pm, 1, 2);
  assert_int_equal(tandem_pixel_memory_get_used(pm), 0);
}

/* Many frames of random sizes in flight at once never overlap each other
 * or leave the region. */
static void test_no_overlap(void **state) {
  g_autofree char *path = make_region("random", SIZE, TRUE);
  g_autoptr(TandemPixelMemory) pm = tandem_pixel_memory_open(path, NULL,
                                                             NULL);
  GRand *rand = g_rand_new_with_seed(7);
  uint32_t off[64] = {0};
  guint64 len[64] = {0};
  for (int round = 0; round < 2000; round++) {
    uint32_t w = (uint32_t)g_rand_int_range(rand, 0, 64);
    if (len[w]) {
      tandem_pixel_memory_release(pm, w + 1, 1);
      len[w] = 0;
      continue;
    }
    guint64 want = (guint64)g_rand_int_range(rand, 1, 64 * 1024);
    if (!tandem_pixel_memory_alloc(pm, w + 1, 1, want, &off[w]))
      continue;
    len[w] = want;
    assert_true(off[w] >= TP_SHM_HEADER_SIZE && off[w] + want <= SIZE);
    for (int o = 0; o < 64; o++)
      if (o != (int)w && len[o])
        assert_true(off[w] + len[w] <= off[o] || off[o] + len[o] <= off[w]);
  }
  g_rand_free(rand);
}

static int group_setup(void **state) {
  tmp = g_dir_make_tmp("tandem-pm-XXXXXX", NULL);
  return tmp ? 0 : -1;
}

static int group_teardown(void **state) {
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp);
  int rc = system(cmd);
  g_free(tmp);
  return rc;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file),
      cmocka_unit_test(test_no_header_refused),
      cmocka_unit_test(test_header_larger_than_memory),
      cmocka_unit_test(test_sysfs_scan),
      cmocka_unit_test(test_allocator),
      cmocka_unit_test(test_release_wraps),
      cmocka_unit_test(test_no_overlap),
  };
  return cmocka_run_group_tests_name("pixel-memory", tests, group_setup,
                                     group_teardown);
}
