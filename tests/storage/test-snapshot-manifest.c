/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The list of snapshots: it round-trips; ids and labels are checked (no
 * path through an id, no line breaks or bidi overrides in a label); a
 * damaged, hostile or foreign list is refused whole; it is replaced
 * atomically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "tandem-snapshot-manifest.h"
#include "tandem-snapshot-private.h"

static TandemSnapshotInfo *sample(const char *id) {
  TandemSnapshotInfo *i = tandem_snapshot_info_new();
  i->id = g_strdup(id);
  i->name = g_strdup("Before the update — «ok»");
  i->created = 1764720000;
  i->method = TANDEM_SNAPSHOT_METHOD_BACKGROUND;
  i->method_reason = g_strdup("");
  i->memory_file = g_strconcat(id, ".tsnap", NULL);
  i->file_bytes = 123456;
  i->raw_bytes = 1u << 30;
  i->memory = 1u << 30;
  i->crc = 0xdeadbeef;
  i->duration_ms = 2500;
  i->config = g_strdup("[VM]\nMemory=1G\n");
  TandemSnapshotDisk *d = g_new0(TandemSnapshotDisk, 1);
  d->name = g_strdup("home");
  d->image = g_strdup("/data/vms/debian/home.qcow2");
  d->format = g_strdup("qcow2");
  g_ptr_array_add(i->disks, d);
  return i;
}

static TandemSnapshotManifest *empty(const char *vm) {
  g_autofree char *json = g_strdup_printf(
      "{\"version\":1,\"vm\":\"%s\",\"snapshots\":[]}", vm);
  return tandem_snapshot_manifest_parse(json, strlen(json), vm, NULL);
}

static void test_round_trip(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotManifest) m = empty("debian");
  assert_non_null(m);
  tandem_snapshot_manifest_add(m, sample("20261203-054512"));
  tandem_snapshot_manifest_add(m, sample("20261203-060000"));
  g_autofree char *json = tandem_snapshot_manifest_to_json(m);
  g_autoptr(TandemSnapshotManifest) back =
      tandem_snapshot_manifest_parse(json, strlen(json), "debian", &error);
  assert_non_null(back);
  assert_int_equal(back->snapshots->len, 2);
  TandemSnapshotInfo *i = tandem_snapshot_manifest_find(back,
                                                        "20261203-060000");
  assert_non_null(i);
  assert_string_equal(i->name, "Before the update — «ok»");
  assert_int_equal(i->crc, 0xdeadbeef);
  assert_int_equal(i->raw_bytes, 1u << 30);
  assert_string_equal(((TandemSnapshotDisk *)i->disks->pdata[0])->image,
                      "/data/vms/debian/home.qcow2");
  g_autoptr(TandemSnapshotInfo) copy = tandem_snapshot_info_copy(i);
  assert_string_equal(copy->config, i->config);
  /* The resume point survives the round trip and goes with its snapshot. */
  back->resume = g_strdup("20261203-054512");
  g_autofree char *with_resume = tandem_snapshot_manifest_to_json(back);
  g_autoptr(TandemSnapshotManifest) again = tandem_snapshot_manifest_parse(
      with_resume, strlen(with_resume), "debian", &error);
  assert_non_null(again);
  assert_string_equal(again->resume, "20261203-054512");
  assert_true(tandem_snapshot_manifest_remove(back, "20261203-054512"));
  assert_null(back->resume);
  assert_false(tandem_snapshot_manifest_remove(back, "20261203-054512"));
  assert_int_equal(back->snapshots->len, 1);
}

static void test_ids_and_labels(void **state) {
  (void)state;
  assert_true(tandem_snapshot_id_is_valid("20261203-054512-2"));
  assert_false(tandem_snapshot_id_is_valid("../manifest"));
  assert_false(tandem_snapshot_id_is_valid("a/b"));
  assert_false(tandem_snapshot_id_is_valid("-rf"));
  assert_false(tandem_snapshot_id_is_valid(""));
  assert_false(tandem_snapshot_id_is_valid(NULL));
  assert_true(tandem_snapshot_name_is_valid(""));
  assert_true(tandem_snapshot_name_is_valid("Vor dem Update"));
  assert_false(tandem_snapshot_name_is_valid("two\nlines"));
  assert_false(tandem_snapshot_name_is_valid("evil\u202etxt.exe"));
  assert_false(tandem_snapshot_name_is_valid("\xff\xfe"));
  g_autofree char *long_name = g_strnfill(65, 'x');
  assert_false(tandem_snapshot_name_is_valid(long_name));
}

static void test_new_ids(void **state) {
  (void)state;
  g_autoptr(TandemSnapshotManifest) m = empty("a");
  assert_non_null(m);
  g_autofree char *a = tandem_snapshot_manifest_new_id(m, 1796276712);
  assert_string_equal(a, "20261203-054512");
  tandem_snapshot_manifest_add(m, sample(a));
  g_autofree char *b = tandem_snapshot_manifest_new_id(m, 1796276712);
  assert_string_equal(b, "20261203-054512-2");
  assert_true(tandem_snapshot_id_is_valid(b));
}

/* A schedule deletes only its own snapshots: the oldest over Keep, and
 * the ones past MaxAge; a snapshot taken by hand survives both. */
static TandemSnapshotInfo *at(const char *id, gint64 created,
                              gboolean scheduled) {
  TandemSnapshotInfo *info = tandem_snapshot_info_new();
  info->id = g_strdup(id);
  info->created = created;
  info->scheduled = scheduled;
  return info;
}

static char *joined(GPtrArray *ids) {
  g_ptr_array_add(ids, NULL);
  return g_strjoinv(",", (char **)ids->pdata);
}

static void test_retention(void **state) {
  (void)state;
  g_autoptr(GPtrArray) list =
      g_ptr_array_new_with_free_func((GDestroyNotify)tandem_snapshot_info_free);
  g_ptr_array_add(list, at("s1", 1000, TRUE));
  g_ptr_array_add(list, at("hand", 1010, FALSE));
  g_ptr_array_add(list, at("s2", 1020, TRUE));
  g_ptr_array_add(list, at("s3", 1030, TRUE));
  g_ptr_array_add(list, at("s4", 1040, TRUE));
  struct {
    guint keep;
    guint64 max_age;
    gint64 now;
    const char *victims;
  } cases[] = {
      {10, 0, 2000, ""},         /* under Keep, no age limit */
      {2, 0, 2000, "s1,s2"},     /* the oldest over Keep */
      {1, 0, 2000, "s1,s2,s3"},
      {4, 0, 2000, ""},          /* exactly Keep */
      {10, 25, 1050, "s1,s2"},   /* older than 25 s at 1050 */
      {3, 25, 1050, "s1,s2"},    /* both rules, no id twice */
      {1, 5, 1050, "s1,s2,s3,s4"}, /* even the newest, when too old */
      {10, 5, 500, ""},          /* clock set back: nothing too old */
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GPtrArray) v = tandem_snapshot_retention_victims(
        list, cases[i].keep, cases[i].max_age, cases[i].now);
    g_autofree char *got = joined(v);
    assert_string_equal(got, cases[i].victims);
  }
  g_autoptr(GPtrArray) empty_list = g_ptr_array_new();
  g_autoptr(GPtrArray) none =
      tandem_snapshot_retention_victims(empty_list, 1, 1, 2000);
  assert_int_equal(none->len, 0);
}

/* Hostile or damaged lists: each refused whole. */
static void test_refused(void **state) {
  (void)state;
  g_autoptr(TandemSnapshotManifest) m = empty("a");
  tandem_snapshot_manifest_add(m, sample("s1"));
  g_autofree char *good = tandem_snapshot_manifest_to_json(m);
  const struct {
    const char *from, *to;
    int code;
  } edits[] = {
      {"\"s1.tsnap\"", "\"../s1.tsnap\"", TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"id\" : \"s1\"", "\"id\" : \"../s1\"", TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"/data/vms/debian/home.qcow2\"", "\"home.qcow2\"",
       TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"qcow2\"", "\"vmdk\"", TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"crc\" : 3735928559", "\"crc\" : \"x\"",
       TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"file-bytes\" : 123456", "\"file-bytes\" : -1",
       TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"vm\" : \"a\"", "\"vm\" : \"b\"", TANDEM_SNAPSHOT_ERROR_WRONG_VM},
      {"\"version\" : 1", "\"version\" : 2", TANDEM_SNAPSHOT_ERROR_CORRUPT},
      {"\"name\" : \"Before", "\"name\" : \"\\u202eBefore",
       TANDEM_SNAPSHOT_ERROR_CORRUPT},
  };
  for (size_t k = 0; k < G_N_ELEMENTS(edits); k++) {
    assert_non_null(strstr(good, edits[k].from));
    g_autoptr(GString) s = g_string_new(good);
    g_string_replace(s, edits[k].from, edits[k].to, 1);
    g_autoptr(GError) error = NULL;
    g_autoptr(TandemSnapshotManifest) bad =
        tandem_snapshot_manifest_parse(s->str, s->len, "a", &error);
    if (bad || !g_error_matches(error, TANDEM_SNAPSHOT_ERROR, edits[k].code))
      fail_msg("edit %zu (%s) was taken", k, edits[k].to);
  }
  /* A resume point naming no listed snapshot. */
  g_autoptr(GString) r = g_string_new(good);
  g_string_replace(r, "\"vm\" : \"a\"", "\"vm\" : \"a\", \"resume\" : \"s9\"", 1);
  assert_null(tandem_snapshot_manifest_parse(r->str, r->len, "a", NULL));
  /* The same id twice; not JSON; a truncated file. */
  g_autoptr(TandemSnapshotManifest) two = empty("a");
  tandem_snapshot_manifest_add(two, sample("s1"));
  tandem_snapshot_manifest_add(two, sample("s1"));
  g_autofree char *dup = tandem_snapshot_manifest_to_json(two);
  assert_null(tandem_snapshot_manifest_parse(dup, strlen(dup), "a", NULL));
  assert_null(tandem_snapshot_manifest_parse("[1,2", 4, "a", NULL));
  assert_null(tandem_snapshot_manifest_parse(good, strlen(good) / 2, "a",
                                             NULL));
}

static void test_save_and_load(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("test-manifest-XXXXXX", NULL);
  g_autofree char *snaps = g_build_filename(dir, "snapshots", NULL);
  g_autoptr(GError) error = NULL;
  /* None yet: an empty list. */
  g_autoptr(TandemSnapshotManifest) m =
      tandem_snapshot_manifest_load(snaps, "debian", &error);
  assert_non_null(m);
  assert_int_equal(m->snapshots->len, 0);
  tandem_snapshot_manifest_add(m, sample("s1"));
  assert_true(tandem_snapshot_manifest_save(m, snaps, &error));
  g_autoptr(TandemSnapshotManifest) back =
      tandem_snapshot_manifest_load(snaps, "debian", &error);
  assert_non_null(back);
  assert_int_equal(back->snapshots->len, 1);
  /* Nothing is left beside it. */
  g_autofree char *tmp = g_build_filename(snaps, "manifest.json.new", NULL);
  assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
  g_autofree char *path = g_build_filename(snaps, "manifest.json", NULL);
  g_unlink(path);
  g_rmdir(snaps);
  g_rmdir(dir);
}

/* The user hears once per VM that its snapshots cannot be taken in the
 * background, not at every snapshot, nor again after a restart. */
static void test_fallback_told_once(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("tandem-told-XXXXXX", NULL);
  g_autofree char *file = g_build_filename(dir, TSM_FALLBACK_TOLD, NULL);
  assert_true(tsm_first_fallback(dir, "QEMU refused background-snapshot"));
  assert_false(tsm_first_fallback(dir, "QEMU refused background-snapshot"));
  g_autofree char *said = NULL;
  assert_true(g_file_get_contents(file, &said, NULL, NULL));
  assert_string_equal(said, "QEMU refused background-snapshot");
  g_unlink(file);
  g_rmdir(dir);
  /* A directory that cannot be written to: told, and no failure. */
  assert_true(tsm_first_fallback("/nonexistent/tandem", "why"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_ids_and_labels),
      cmocka_unit_test(test_new_ids),
      cmocka_unit_test(test_retention),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_save_and_load),
      cmocka_unit_test(test_fallback_told_once),
  };
  return cmocka_run_group_tests_name("snapshot-manifest", tests, NULL, NULL);
}
