/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Snapshot disk images: what their qcow2 headers say about their backing
 * files (images made by the real qemu-img, and hostile headers), and the
 * plan for tidying them (which go, which are merged, which stay). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "tandem-qcow2.h"
#include "tandem-snapshot-chain.h"

/* --- Headers from qemu-img ---------------------------------------------- */

static gboolean have_qemu_img(void) {
  g_autofree char *p = g_find_program_in_path("qemu-img");
  return p != NULL;
}

static void qemu_img(const char *const *argv) {
  g_autoptr(GError) error = NULL;
  int status = -1;
  g_autofree char *err = NULL;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, NULL, &err, &status, &error))
    fail_msg("qemu-img: %s", error->message);
  if (!g_spawn_check_wait_status(status, NULL))
    fail_msg("qemu-img: %s", err);
}

static void test_qemu_img_images(void **state) {
  (void)state;
  if (!have_qemu_img())
    skip();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("tandem-chain-XXXXXX", &error);
  g_autofree char *sub = g_build_filename(dir, "disks", NULL);
  g_mkdir(sub, 0700);
  g_autofree char *raw = g_build_filename(dir, "base.raw", NULL);
  g_autofree char *base = g_build_filename(dir, "base.qcow2", NULL);
  g_autofree char *v2 = g_build_filename(sub, "v2.qcow2", NULL);
  g_autofree char *rel = g_build_filename(sub, "rel.qcow2", NULL);
  g_autofree char *on_raw = g_build_filename(sub, "on-raw.qcow2", NULL);
  const char *const a[] = {"qemu-img", "create", "-q", "-f", "raw", raw,
                           "1M", NULL};
  const char *const b[] = {"qemu-img", "create", "-q", "-f", "qcow2", base,
                           "1M", NULL};
  const char *const c[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-o",
                           "compat=0.10", "-F", "qcow2", "-b", base, v2,
                           NULL};
  /* A name relative to the image's directory, as a user might write. */
  const char *const d[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-u",
                           "-F", "qcow2", "-b", "./../disks/v2.qcow2", rel,
                           "1M", NULL};
  const char *const e[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-F",
                           "raw", "-b", raw, on_raw, NULL};
  qemu_img(a);
  qemu_img(b);
  qemu_img(c);
  qemu_img(d);
  qemu_img(e);

  char *backing = NULL, *format = NULL;
  assert_true(tandem_qcow2_read_backing(base, &backing, &format, &error));
  assert_null(backing);
  assert_null(format);
  assert_true(tandem_qcow2_read_backing(v2, &backing, &format, &error));
  assert_string_equal(backing, base);
  assert_string_equal(format, "qcow2");
  g_free(backing);
  g_free(format);
  assert_true(tandem_qcow2_read_backing(rel, &backing, &format, &error));
  assert_string_equal(backing, v2);
  g_free(backing);
  g_free(format);
  assert_true(tandem_qcow2_read_backing(on_raw, &backing, &format, &error));
  assert_string_equal(backing, raw);
  assert_string_equal(format, "raw");
  g_free(backing);
  g_free(format);

  assert_false(tandem_qcow2_read_backing(raw, &backing, &format, &error));
  assert_true(g_error_matches(error, TANDEM_QCOW2_ERROR,
                              TANDEM_QCOW2_ERROR_NOT_QCOW2));
  g_clear_error(&error);
  g_autofree char *none = g_build_filename(dir, "none.qcow2", NULL);
  assert_false(tandem_qcow2_read_backing(none, &backing, &format, &error));
  assert_true(g_error_matches(error, TANDEM_QCOW2_ERROR,
                              TANDEM_QCOW2_ERROR_IO));
  assert_non_null(strstr(error->message, "none.qcow2"));
  g_clear_error(&error);
  /* A link is not followed: disks/ holds Tandem's files, never links. */
  g_autofree char *link = g_build_filename(sub, "link.qcow2", NULL);
  assert_int_equal(symlink(v2, link), 0);
  assert_false(tandem_qcow2_read_backing(link, &backing, &format, &error));
  assert_true(g_error_matches(error, TANDEM_QCOW2_ERROR,
                              TANDEM_QCOW2_ERROR_IO));

  const char *files[] = {link, on_raw, rel, v2, base, raw};
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++)
    g_unlink(files[i]);
  g_rmdir(sub);
  g_rmdir(dir);
}

/* --- Hostile headers ---------------------------------------------------- */

static void put32(guint8 *p, guint32 v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void put64(guint8 *p, guint64 v) {
  put32(p, v >> 32);
  put32(p + 4, (guint32)v);
}

/* A version 3 header of 112 bytes, a backing format extension and the
 * name "base.img" at 512. */
static void good_header(guint8 *h, gsize len) {
  memset(h, 0, len);
  put32(h, 0x514649fb);
  put32(h + 4, 3);
  put64(h + 8, 512);
  put32(h + 16, 8);
  put32(h + 100, 112);
  put32(h + 112, 0xe2792aca);
  put32(h + 116, 5);
  memcpy(h + 120, "qcow2", 5);
  memcpy(h + 512, "base.img", 8);
}

static int parse(const guint8 *h, gsize len, char **backing, char **fmt) {
  g_autoptr(GError) error = NULL;
  if (tandem_qcow2_parse_backing(h, len, backing, fmt, &error))
    return -1;
  assert_null(*backing);
  assert_null(*fmt);
  return error->code;
}

static void test_hostile_headers(void **state) {
  (void)state;
  guint8 h[1024];
  char *backing = NULL, *fmt = NULL;

  good_header(h, sizeof(h));
  assert_int_equal(parse(h, sizeof(h), &backing, &fmt), -1);
  assert_string_equal(backing, "base.img");
  assert_string_equal(fmt, "qcow2");
  g_clear_pointer(&backing, g_free);
  g_clear_pointer(&fmt, g_free);

  const int INVALID = TANDEM_QCOW2_ERROR_INVALID;
  struct {
    gsize at;
    guint32 value;
    gsize len;
    int code;
  } cases[] = {
      {0, 0x514649fa, sizeof(h), TANDEM_QCOW2_ERROR_NOT_QCOW2},
      {0, 0x514649fb, 40, TANDEM_QCOW2_ERROR_NOT_QCOW2}, /* cut short */
      {4, 4, sizeof(h), INVALID},                        /* version */
      {4, 3, 100, INVALID},                              /* v3, cut */
      {100, 50, sizeof(h), INVALID},                     /* header length */
      {100, 0xffffffff, sizeof(h), INVALID},
      {12, 1020, sizeof(h), INVALID},      /* name past the end */
      {12, 0xfffffffc, sizeof(h), INVALID},
      {8, 0xffffffff, sizeof(h), INVALID}, /* offset far away */
      {12, 8, sizeof(h), INVALID},         /* name inside the header */
      {16, 0, sizeof(h), INVALID},         /* name of size 0 */
      {16, 5000, sizeof(h), INVALID},      /* longer than QEMU allows */
      {512, 0x41000042, sizeof(h), INVALID}, /* a NUL in the name */
      {512, 0x410a4142, sizeof(h), INVALID}, /* a newline in it */
      {512, 0xc3284142, sizeof(h), INVALID}, /* not UTF-8 */
      {116, 0xffffff00, sizeof(h), INVALID}, /* extension past its end */
      {116, 40, sizeof(h), INVALID},         /* a format name too long */
      {120, 0x71630a77, sizeof(h), INVALID}, /* a control in the format */
      {116, 0, sizeof(h), INVALID},          /* an empty format name */
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    good_header(h, sizeof(h));
    put32(h + cases[i].at, cases[i].value);
    if (parse(h, cases[i].len, &backing, &fmt) != cases[i].code)
      fail_msg("case %zu: not refused as it should be", i);
  }

  /* No backing file: no format either, whatever the extensions say. */
  good_header(h, sizeof(h));
  put64(h + 8, 0);
  put32(h + 16, 0);
  assert_int_equal(parse(h, sizeof(h), &backing, &fmt), -1);
  assert_null(backing);
  assert_null(fmt);
  /* Version 2: no header length, extensions right after 72 bytes. */
  good_header(h, sizeof(h));
  put32(h + 4, 2);
  memmove(h + 72, h + 112, 16);
  assert_int_equal(parse(h, sizeof(h), &backing, &fmt), -1);
  assert_string_equal(backing, "base.img");
  assert_string_equal(fmt, "qcow2");
  g_free(backing);
  g_free(fmt);

  /* Random bytes behind a good magic never crash, never leak. */
  GRand *r = g_rand_new_with_seed(9);
  for (int round = 0; round < 20000; round++) {
    good_header(h, sizeof(h));
    int flips = g_rand_int_range(r, 1, 8);
    for (int k = 0; k < flips; k++)
      h[g_rand_int_range(r, 4, 600)] = (guint8)g_rand_int(r);
    g_autoptr(GError) error = NULL;
    gsize len = (gsize)g_rand_int_range(r, 0, sizeof(h) + 1);
    if (tandem_qcow2_parse_backing(h, len, &backing, &fmt, &error)) {
      assert_true(!backing || strlen(backing) <= TANDEM_QCOW2_MAX_BACKING);
      g_clear_pointer(&backing, g_free);
      g_clear_pointer(&fmt, g_free);
    } else {
      assert_non_null(error);
    }
  }
  g_rand_free(r);
}

/* --- The plan ------------------------------------------------------------ */

#define OWN(p, b) {p, b, TRUE, FALSE}
#define USER(p, b) {p, b, FALSE, FALSE}

static void test_plan(void **state) {
  (void)state;
  TandemChainStep s;

  /* Snapshots S1 (on the user's base), S2 (on o1), S3 (on o2); the VM on
   * o3. Nothing to do while all are listed. */
  TandemChainImage chain[] = {USER("/u/base", NULL), OWN("/d/o1", "/u/base"),
                              OWN("/d/o2", "/d/o1"), OWN("/d/o3", "/d/o2")};
  const char *all[] = {"/u/base", "/d/o1", "/d/o2", "/d/o3", NULL};
  s = tandem_snapshot_chain_next(chain, 4, all);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);

  /* S2 deleted: o1 has one image on it, o2: merged into it. */
  const char *no_s2[] = {"/u/base", "/d/o2", "/d/o3", NULL};
  s = tandem_snapshot_chain_next(chain, 4, no_s2);
  assert_int_equal(s.action, TANDEM_CHAIN_MERGE);
  assert_string_equal(s.image, "/d/o1");
  assert_string_equal(s.into, "/d/o2");
  /* Once merged, o2 sits on base and o1 goes. */
  TandemChainImage merged[] = {USER("/u/base", NULL), OWN("/d/o1", "/u/base"),
                               OWN("/d/o2", "/u/base"),
                               OWN("/d/o3", "/d/o2")};
  s = tandem_snapshot_chain_next(merged, 4, no_s2);
  assert_int_equal(s.action, TANDEM_CHAIN_REMOVE);
  assert_string_equal(s.image, "/d/o1");

  /* S1 deleted: its image is the user's, never touched. */
  const char *no_s1[] = {"/d/o1", "/d/o2", "/d/o3", NULL};
  s = tandem_snapshot_chain_next(chain, 4, no_s1);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);

  /* A restore of S1 left o3 (the old active image) and put r1 on base:
   * o3 goes first (nothing on it), then o2, then o1. */
  TandemChainImage restored[] = {
      USER("/u/base", NULL), OWN("/d/o1", "/u/base"), OWN("/d/o2", "/d/o1"),
      OWN("/d/o3", "/d/o2"), OWN("/d/r1", "/u/base")};
  const char *after_restore[] = {"/u/base", "/d/o1", "/d/o2", "/d/r1",
                                 NULL};
  s = tandem_snapshot_chain_next(restored, 5, after_restore);
  assert_int_equal(s.action, TANDEM_CHAIN_REMOVE);
  assert_string_equal(s.image, "/d/o3");

  /* Two images on o1 (a restore of S2 next to the old branch): it stays. */
  TandemChainImage fork[] = {USER("/u/base", NULL), OWN("/d/o1", "/u/base"),
                             OWN("/d/o2", "/d/o1"), OWN("/d/r2", "/d/o1")};
  const char *fork_refs[] = {"/u/base", "/d/o2", "/d/r2", NULL};
  s = tandem_snapshot_chain_next(fork, 4, fork_refs);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);

  /* Never merged into the user's own image. */
  TandemChainImage user_top[] = {OWN("/d/o1", NULL), USER("/u/mine", "/d/o1")};
  const char *mine[] = {"/u/mine", NULL};
  s = tandem_snapshot_chain_next(user_top, 2, mine);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);

  /* An unreadable image (its children unknown) or a loop: nothing. */
  TandemChainImage unreadable[] = {OWN("/d/o1", NULL),
                                   {"/d/o2", NULL, TRUE, TRUE}};
  const char *none[] = {NULL};
  s = tandem_snapshot_chain_next(unreadable, 2, none);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);
  TandemChainImage loop[] = {OWN("/d/a", "/d/b"), OWN("/d/b", "/d/a"),
                             OWN("/d/c", NULL)};
  s = tandem_snapshot_chain_next(loop, 3, none);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);
  TandemChainImage self_loop[] = {OWN("/d/a", "/d/a")};
  s = tandem_snapshot_chain_next(self_loop, 1, none);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);
  s = tandem_snapshot_chain_next(NULL, 0, none);
  assert_int_equal(s.action, TANDEM_CHAIN_NOTHING);
}

/* Random forests of images and references: a step never touches an image
 * that is referenced or not owned, and a merge's target always sits on the
 * image merged. */
static void test_plan_random(void **state) {
  (void)state;
  GRand *r = g_rand_new_with_seed(15);
  char names[12][8];
  for (int i = 0; i < 12; i++)
    g_snprintf(names[i], sizeof(names[i]), "/d/%d", i);
  for (int round = 0; round < 5000; round++) {
    TandemChainImage im[12];
    const char *refs[13];
    gsize n = (gsize)g_rand_int_range(r, 1, 13), nr = 0;
    for (gsize i = 0; i < n; i++) {
      /* Backing files point to earlier images: no loops. */
      im[i] = (TandemChainImage){names[i],
                                 i && g_rand_boolean(r)
                                     ? names[g_rand_int_range(r, 0, i)]
                                     : NULL,
                                 g_rand_int_range(r, 0, 4) != 0, FALSE};
      if (g_rand_int_range(r, 0, 3) == 0)
        refs[nr++] = names[i];
    }
    refs[nr] = NULL;
    TandemChainStep s = tandem_snapshot_chain_next(im, n, refs);
    if (s.action == TANDEM_CHAIN_NOTHING)
      continue;
    for (gsize k = 0; k < nr; k++)
      assert_string_not_equal(s.image, refs[k]);
    gsize i = 0;
    while (!g_str_equal(im[i].path, s.image))
      i++;
    assert_true(im[i].owned);
    for (gsize j = 0; j < n; j++) {
      gboolean on = im[j].backing && g_str_equal(im[j].backing, s.image);
      if (s.action == TANDEM_CHAIN_REMOVE)
        assert_false(on);
      else if (on)
        assert_string_equal(im[j].path, s.into);
    }
  }
  g_rand_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_qemu_img_images),
      cmocka_unit_test(test_hostile_headers),
      cmocka_unit_test(test_plan),
      cmocka_unit_test(test_plan_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
