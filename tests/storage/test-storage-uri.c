/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Addresses of network disks as users type them: the three forms are read
 * into their parts, default ports filled in, the canonical form reads
 * back the same; everything else is refused with a message that shows
 * the forms, and nothing half-parsed comes out. Attachment names derived
 * from an address are always usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <string.h>

#include "tandem-disk-manager.h"
#include "tandem-storage-uri.h"

static TandemStorageUri *ok(const char *text) {
  g_autoptr(GError) error = NULL;
  TandemStorageUri *u = tandem_storage_uri_parse(text, &error);
  if (!u)
    fail_msg("%s: %s", text, error->message);
  /* The canonical form is read back as the same disk. */
  g_autofree char *again = tandem_storage_uri_to_string(u);
  g_autoptr(TandemStorageUri) v = tandem_storage_uri_parse(again, &error);
  if (!v)
    fail_msg("%s -> %s: %s", text, again, error->message);
  g_autofree char *twice = tandem_storage_uri_to_string(v);
  assert_string_equal(again, twice);
  assert_int_equal(u->protocol, v->protocol);
  assert_int_equal(u->port, v->port);
  assert_int_equal(u->lun, v->lun);
  assert_string_equal(u->host ? u->host : "-", v->host ? v->host : "-");
  assert_string_equal(u->export_name ? u->export_name : "-",
                      v->export_name ? v->export_name : "-");
  assert_string_equal(u->socket_path ? u->socket_path : "-",
                      v->socket_path ? v->socket_path : "-");
  assert_string_equal(u->target ? u->target : "-", v->target ? v->target : "-");
  /* A derived name is always a valid attachment name. */
  g_autofree char *name = tandem_storage_uri_default_name(u);
  assert_true(tandem_disk_name_is_valid(name));
  return u;
}

static void test_nbd_tcp(void **state) {
  (void)state;
  g_autoptr(TandemStorageUri) a = ok("nbd://nas.local/photos");
  assert_int_equal(a->protocol, TANDEM_STORAGE_NBD);
  assert_string_equal(a->host, "nas.local");
  assert_int_equal(a->port, TANDEM_STORAGE_NBD_PORT);
  assert_string_equal(a->export_name, "photos");
  assert_null(a->socket_path);
  g_autofree char *s = tandem_storage_uri_to_string(a);
  assert_string_equal(s, "nbd://nas.local:10809/photos");
  g_autofree char *n = tandem_storage_uri_default_name(a);
  assert_string_equal(n, "photos");

  g_autoptr(TandemStorageUri) b = ok("NBD://127.0.0.1:10900/");
  assert_int_equal(b->port, 10900);
  assert_string_equal(b->export_name, ""); /* the default export */
  g_autofree char *nb = tandem_storage_uri_default_name(b);
  assert_string_equal(nb, "127.0.0.1");

  g_autoptr(TandemStorageUri) c = ok("nbd://[::1]:10809/a%20b%2Fc");
  assert_string_equal(c->host, "::1");
  assert_string_equal(c->export_name, "a b/c");
  g_autofree char *nc = tandem_storage_uri_default_name(c);
  assert_string_equal(nc, "c");
}

static void test_nbd_unix(void **state) {
  (void)state;
  g_autoptr(TandemStorageUri) a =
      ok("nbd+unix:///disk0?socket=/run/user/1000/nbd.sock");
  assert_int_equal(a->protocol, TANDEM_STORAGE_NBD);
  assert_null(a->host);
  assert_string_equal(a->socket_path, "/run/user/1000/nbd.sock");
  assert_string_equal(a->export_name, "disk0");
  g_autoptr(TandemStorageUri) b = ok("nbd+unix://?socket=/tmp/x%20y.sock");
  assert_string_equal(b->socket_path, "/tmp/x y.sock");
  assert_string_equal(b->export_name, "");
}

static void test_iscsi(void **state) {
  (void)state;
  g_autoptr(TandemStorageUri) a =
      ok("iscsi://192.168.1.5/iqn.2003-01.org.example:storage/1");
  assert_int_equal(a->protocol, TANDEM_STORAGE_ISCSI);
  assert_string_equal(a->host, "192.168.1.5");
  assert_int_equal(a->port, TANDEM_STORAGE_ISCSI_PORT);
  assert_string_equal(a->target, "iqn.2003-01.org.example:storage");
  assert_int_equal(a->lun, 1);
  g_autoptr(TandemStorageUri) b = ok("iscsi://h:3261/t/0");
  assert_int_equal(b->port, 3261);
  assert_int_equal(b->lun, 0);
}

static void test_refused(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "photos",
      "/dev/sda",
      "http://nas/photos",
      "file:///etc/passwd",
      "nbd://",
      "nbd:///photos",                      /* no host */
      "nbd://nas:0/photos",                 /* port 0 */
      "nbd://nas:65536/photos",
      "nbd://nas:port/photos",
      "nbd://user:secret@nas/photos",       /* credentials */
      "nbd://nas/photos#x",
      "nbd://nas/photos?socket=/tmp/s",
      "nbd+unix:///photos",                 /* no socket */
      "nbd+unix:///photos?socket=relative.sock",
      "nbd+unix://host/photos?socket=/tmp/s",
      "nbd+unix:///photos?socket=/tmp/s&x=1",
      "nbd+unix:///photos?socket=/tmp/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
      "nbd://nas/a%0Ab",                    /* a control character */
      "nbd://nas/a%FFb",                    /* not UTF-8 */
      "iscsi://h/target",                   /* no LUN */
      "iscsi://h/target/x",
      "iscsi://h/target/16384",
      "iscsi://h//1",
      "iscsi://h/t/1/2",
      "iscsi://h/t/1?x=1",
      "iscsi:///t/1",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    TandemStorageUri *u = tandem_storage_uri_parse(bad[i], &error);
    if (u)
      fail_msg("accepted: %s", bad[i]);
    assert_true(g_error_matches(error, G_IO_ERROR,
                                G_IO_ERROR_INVALID_ARGUMENT));
    assert_true(strlen(error->message) > 10);
  }
  /* Too long for anyone. */
  g_autofree char *huge = g_strnfill(TANDEM_STORAGE_MAX_URI + 1, 'a');
  memcpy(huge, "nbd://h/", 8);
  g_autoptr(GError) error = NULL;
  assert_null(tandem_storage_uri_parse(huge, &error));
  assert_null(tandem_storage_uri_parse(NULL, NULL));
}

static void test_messages(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  assert_null(tandem_storage_uri_parse("http://nas/x", &error));
  /* A wrong scheme shows every form the user can write. */
  assert_non_null(strstr(error->message, "nbd://HOST"));
  assert_non_null(strstr(error->message, "nbd+unix://"));
  assert_non_null(strstr(error->message, "iscsi://"));
  g_clear_error(&error);
  assert_null(tandem_storage_uri_parse("nbd+unix:///x", &error));
  assert_non_null(strstr(error->message, "socket=PATH"));
}

static void test_names(void **state) {
  (void)state;
  assert_true(tandem_disk_name_is_valid("data"));
  assert_true(tandem_disk_name_is_valid("a.b_c-1"));
  assert_false(tandem_disk_name_is_valid(""));
  assert_false(tandem_disk_name_is_valid(NULL));
  assert_false(tandem_disk_name_is_valid(".."));
  assert_false(tandem_disk_name_is_valid("-x"));
  assert_false(tandem_disk_name_is_valid("a/b"));
  assert_false(tandem_disk_name_is_valid("a b"));
  assert_false(tandem_disk_name_is_valid("é"));
  assert_false(tandem_disk_name_is_valid("0123456789012345678901234567890123"));
  /* Names derived from odd exports are still names. */
  static const char *const odd[] = {"nbd://h/..", "nbd://h/.hidden",
                                    "nbd://h/%E2%80%AE", "nbd://h/-x",
                                    "nbd+unix:///?socket=/s"};
  for (gsize i = 0; i < G_N_ELEMENTS(odd); i++) {
    g_autoptr(TandemStorageUri) u = ok(odd[i]);
    g_autofree char *n = tandem_storage_uri_default_name(u);
    if (!tandem_disk_name_is_valid(n))
      fail_msg("%s -> %s", odd[i], n);
  }
  TandemDiskBus bus;
  assert_true(tandem_disk_bus_from_string("virtio", &bus));
  assert_int_equal(bus, TANDEM_DISK_BUS_VIRTIO);
  assert_true(tandem_disk_bus_from_string("nvme", &bus));
  assert_int_equal(bus, TANDEM_DISK_BUS_NVME);
  assert_false(tandem_disk_bus_from_string("scsi", &bus));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nbd_tcp),  cmocka_unit_test(test_nbd_unix),
      cmocka_unit_test(test_iscsi),    cmocka_unit_test(test_refused),
      cmocka_unit_test(test_messages), cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
