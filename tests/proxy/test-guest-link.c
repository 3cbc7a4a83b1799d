/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's agent link against a scripted (hostile) agent on a socket
 * pair: the handshake, the catalog as BEGIN..END, launching, and every
 * protocol violation a guest can commit ending the connection with a
 * reason instead of reaching the proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tandem-guest-link.h"

typedef struct {
  TandemGuestLink *link;
  int agent_fd;        /* the test's end: it plays the agent */
  TpReader *reader;    /* what the link sends */
  char *closed;        /* reason, once closed */
  guint window_msgs;
  guint catalog_changes;
} Fixture;

static gboolean tick(gpointer d) { return G_SOURCE_CONTINUE; }

/* Runs the main loop until @pred holds, at most @ms. */
static gboolean tandem_test_wait(gboolean (*pred)(gpointer), gpointer d,
                                 int ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  guint t = g_timeout_add(10, tick, NULL); /* wakes the loop to look */
  while (!pred(d) && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(t);
  return pred(d);
}

static void on_closed(TandemGuestLink *l, const char *reason, gpointer d) {
  Fixture *f = d;
  g_free(f->closed);
  f->closed = g_strdup(reason);
}

static void on_window(TandemGuestLink *l, const TpMessage *m, gpointer d) {
  ((Fixture *)d)->window_msgs++;
}

static void on_catalog(TandemGuestLink *l, gpointer d) {
  ((Fixture *)d)->catalog_changes++;
}

static void agent_send(Fixture *f, const TpMessage *m) {
  TpBuf b;
  tp_buf_init(&b);
  assert_int_equal(tp_encode(m, &b), TP_OK);
  size_t off = 0;
  while (off < b.len) { /* the link reads as the main loop runs */
    ssize_t n = write(f->agent_fd, b.data + off, b.len - off);
    if (n > 0)
      off += (size_t)n;
    else if (errno == EAGAIN)
      g_main_context_iteration(NULL, FALSE);
    else
      break; /* the link hung up: what it says is checked after */
  }
  tp_buf_clear(&b);
}

static gboolean is_ready(gpointer d) {
  Fixture *f = d;
  return tandem_guest_link_get_state(f->link) == TANDEM_GUEST_LINK_READY;
}

static gboolean is_closed(gpointer d) { return ((Fixture *)d)->closed != NULL; }

static void hello(Fixture *f) {
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION, TP_CAP_WM, 0, 0, 1024, 768, 100, 0,
                        "Test OS", "test agent", ""};
  agent_send(f, &m);
  assert_true(tandem_test_wait(is_ready, f, 5000));
}

/* A link on one end of a socket pair, the test on the other; @region
 * (may be NULL) is offered to the agent. */
static void link_up(Fixture *f, TandemPixelRegion *region) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  f->link = tandem_guest_link_new("test");
  tandem_guest_link_set_pixel_region(f->link, region);
  g_signal_connect(f->link, "closed", G_CALLBACK(on_closed), f);
  g_signal_connect(f->link, "window-message", G_CALLBACK(on_window), f);
  g_signal_connect(f->link, "catalog-changed", G_CALLBACK(on_catalog), f);
  tandem_guest_link_attach_fd(f->link, sv[0]);
  f->agent_fd = sv[1];
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  f->reader = tp_reader_new(TP_ROLE_AGENT);
}

static int setup(void **state) {
  Fixture *f = g_new0(Fixture, 1);
  link_up(f, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  Fixture *f = *state;
  g_object_unref(f->link);
  close(f->agent_fd);
  tp_reader_free(f->reader);
  g_free(f->closed);
  g_free(f);
  return 0;
}

/* The host speaks first with its HELLO, then follows the agent's. */
static void test_handshake(void **state) {
  Fixture *f = *state;
  TpMessage m;
  uint8_t buf[4096];
  ssize_t n = read(f->agent_fd, buf, sizeof(buf));
  assert_true(n > 0);
  tp_reader_feed(f->reader, buf, (size_t)n);
  assert_int_equal(tp_reader_next(f->reader, &m), TP_OK);
  assert_int_equal(m.type, TP_MSG_HELLO);
  assert_non_null(strstr(m.u.hello.software, "tandem"));
  hello(f);
  assert_string_equal(tandem_guest_link_get_agent_software(f->link),
                      "test agent");
}

static void send_catalog(Fixture *f, uint32_t count, uint32_t entries) {
  TpMessage m = {.type = TP_MSG_APP_LIST_BEGIN};
  m.u.app_list_begin = (TpAppListBegin){7, count};
  agent_send(f, &m);
  for (uint32_t i = 0; i < entries; i++) {
    char id[32];
    g_snprintf(id, sizeof(id), "app%u", i);
    m = (TpMessage){.type = TP_MSG_APP_ENTRY};
    m.u.app = (TpAppEntry){.id = id, .name = "App", .generic_name = "",
                           .comment = "", .startup_wm_class = ""};
    agent_send(f, &m);
  }
  m = (TpMessage){.type = TP_MSG_APP_LIST_END};
  m.u.app_list_end.generation = 7;
  agent_send(f, &m);
}

static gboolean has_catalog(gpointer d) {
  return tandem_guest_link_has_catalog(((Fixture *)d)->link);
}

static void test_catalog(void **state) {
  Fixture *f = *state;
  hello(f);
  send_catalog(f, 3, 3);
  assert_true(tandem_test_wait(has_catalog, f, 5000));
  assert_int_equal(tandem_guest_link_get_apps(f->link)->len, 3);
  assert_non_null(tandem_guest_link_find_app(f->link, "app2"));
  assert_null(f->closed);
}

static void expect_violation(Fixture *f, const char *what) {
  assert_true(tandem_test_wait(is_closed, f, 5000));
  if (!strstr(f->closed, what))
    fail_msg("closed for “%s”, wanted “%s”", f->closed, what);
  assert_int_equal(tandem_guest_link_get_state(f->link),
                   TANDEM_GUEST_LINK_DISCONNECTED);
}

/* An agent too old for this host: the link says which side to update. */
static void test_agent_too_old(void **state) {
  Fixture *f = *state;
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, 1, 1, TP_CAP_WM, 0, 0, 1024, 768, 100, 0,
                        "Old OS", "tandem-agent 0.0.1", ""};
  agent_send(f, &m);
  expect_violation(f, "install this Tandem's tandem-agent package");
  assert_non_null(strstr(f->closed, "tandem-agent 0.0.1"));
}

/* What the agent said of itself is kept for `tandemctl vm status`. */
static void test_agent_identity_kept(void **state) {
  Fixture *f = *state;
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION,
                        TP_CAP_WM, 0, 0, 1024, 768, 100, 0,
                        "Debian GNU/Linux 12", "tandem-agent 9.9", ""};
  agent_send(f, &m);
  assert_true(tandem_test_wait(is_ready, f, 5000));
  assert_string_equal(tandem_guest_link_get_agent_software(f->link),
                      "tandem-agent 9.9");
  assert_string_equal(tandem_guest_link_get_agent_os(f->link),
                      "Debian GNU/Linux 12");
  assert_int_equal(tandem_guest_link_get_agent_protocol(f->link),
                   TP_PROTOCOL_VERSION);
}

static void test_catalog_longer_than_announced(void **state) {
  Fixture *f = *state;
  hello(f);
  send_catalog(f, 2, 3);
  expect_violation(f, "more catalog entries");
  assert_false(tandem_guest_link_has_catalog(f->link));
}

/* A restored guest goes on talking to its old host until our HELLO
 * reaches it: what comes before its HELLO is dropped, up to a bound. */
static void test_messages_before_hello(void **state) {
  Fixture *f = *state;
  send_catalog(f, 0, 0);
  TpMessage hb = {.type = TP_MSG_HEARTBEAT};
  for (int i = 0; i < 10; i++)
    agent_send(f, &hb);
  hello(f);
  assert_int_equal(tandem_guest_link_get_state(f->link),
                   TANDEM_GUEST_LINK_READY);
  assert_false(tandem_guest_link_has_catalog(f->link));
}

static void test_too_many_before_hello(void **state) {
  Fixture *f = *state;
  TpMessage hb = {.type = TP_MSG_HEARTBEAT};
  for (int i = 0; i <= TANDEM_GUEST_LINK_MAX_BEFORE_HELLO; i++)
    agent_send(f, &hb);
  expect_violation(f, "too many messages before HELLO");
}

static void create(Fixture *f, uint32_t id, uint32_t transient_for) {
  TpMessage m = {.type = TP_MSG_WINDOW_CREATE, .window = id};
  m.u.create = (TpWindowCreate){0, 0, 10, 10, 0, transient_for, 0, 0};
  agent_send(f, &m);
}

static void test_unknown_window(void **state) {
  Fixture *f = *state;
  hello(f);
  TpMessage m = {.type = TP_MSG_WINDOW_MAP, .window = 42};
  agent_send(f, &m);
  expect_violation(f, "unknown window");
  assert_int_equal(f->window_msgs, 0); /* never reached the proxies */
}

static void test_window_created_twice(void **state) {
  Fixture *f = *state;
  hello(f);
  create(f, 5, 0);
  create(f, 5, 0);
  expect_violation(f, "created twice");
  assert_int_equal(f->window_msgs, 1);
}

static void test_transient_for_unknown(void **state) {
  Fixture *f = *state;
  hello(f);
  create(f, 5, 99);
  expect_violation(f, "transient for an unknown window");
}

static void test_too_many_windows(void **state) {
  Fixture *f = *state;
  hello(f);
  for (uint32_t i = 1; i <= TP_MAX_WINDOWS + 1; i++)
    create(f, i, 0);
  expect_violation(f, "too many windows");
  assert_int_equal(f->window_msgs, TP_MAX_WINDOWS);
}

static void test_destroyed_window_is_gone(void **state) {
  Fixture *f = *state;
  hello(f);
  create(f, 5, 0);
  TpMessage m = {.type = TP_MSG_WINDOW_DESTROY, .window = 5};
  agent_send(f, &m);
  m = (TpMessage){.type = TP_MSG_WINDOW_UNMAP, .window = 5};
  agent_send(f, &m); /* after DESTROY, the id means nothing */
  expect_violation(f, "unknown window");
}

/* --- Pixels in shared memory ---------------------------------------------- */

#define REGION_SIZE (1u << 20)

typedef struct {
  Fixture base;
  char *dir;
  TandemPixelRegion *region;
} ShmFixture;

/* The link with a region to offer, as a VM's has; the agent's HELLO says
 * whether it takes it. */
static ShmFixture *shm_setup(gboolean agent_takes_it) {
  ShmFixture *s = g_new0(ShmFixture, 1);
  s->dir = g_dir_make_tmp("tandem-link-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(s->dir, "pixels", NULL);
  s->region = tandem_pixel_region_create(path, REGION_SIZE, NULL);
  assert_non_null(s->region);
  Fixture *f = &s->base;
  link_up(f, s->region);
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION,
                        TP_CAP_WM | (agent_takes_it ? TP_CAP_SHM : 0), 0, 0,
                        1024, 768, 100, 0, "Test OS", "test agent", ""};
  agent_send(f, &m);
  assert_true(tandem_test_wait(is_ready, f, 5000));
  create(f, 5, 0);
  return s;
}

static void shm_teardown(ShmFixture *s) {
  Fixture *f = &s->base;
  g_object_unref(f->link);
  close(f->agent_fd);
  tp_reader_free(f->reader);
  g_free(f->closed);
  tandem_pixel_region_unref(s->region);
  g_rmdir(s->dir);
  g_free(s->dir);
  g_free(s);
}

static void send_shm_damage(Fixture *f, uint16_t w, uint16_t h,
                            uint32_t offset, uint32_t stride) {
  uint8_t ref[TP_SHM_REF_SIZE];
  tp_shm_ref_write(ref, &(TpShmRef){offset, stride});
  TpRect r = {0, 0, w, h, TP_SHM_REF_SIZE, ref};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = 5};
  m.u.damage = (TpDamage){1, TP_ENCODING_SHM, TP_DAMAGE_FRAME_END, 1, &r};
  agent_send(f, &m);
}

static gboolean three_messages(gpointer d) {
  return ((Fixture *)d)->window_msgs >= 3 || ((Fixture *)d)->closed;
}

static gboolean four_messages(gpointer d) {
  return ((Fixture *)d)->window_msgs >= 4 || ((Fixture *)d)->closed;
}

static void test_shm_offered_and_used(void **state) {
  ShmFixture *s = shm_setup(TRUE);
  Fixture *f = &s->base;
  /* Our HELLO offered it. */
  uint8_t buf[4096];
  ssize_t n = read(f->agent_fd, buf, sizeof(buf));
  assert_true(n > 0);
  tp_reader_feed(f->reader, buf, (size_t)n);
  TpMessage m;
  assert_int_equal(tp_reader_next(f->reader, &m), TP_OK);
  assert_int_equal(m.type, TP_MSG_HELLO);
  assert_true(m.u.hello.caps & TP_CAP_SHM);
  assert_ptr_equal(tandem_guest_link_get_pixel_region(f->link), s->region);
  /* The last byte of the region, and a whole row at its end. */
  send_shm_damage(f, 1, 1, REGION_SIZE - 4, 4);
  send_shm_damage(f, 256, 2, REGION_SIZE - 2048, 1024);
  create(f, 6, 0); /* after both: once it is in, so are they */
  assert_true(tandem_test_wait(four_messages, f, 5000));
  assert_null(f->closed);
  assert_int_equal(f->window_msgs, 4); /* CREATE, DAMAGE x2, CREATE */
  shm_teardown(s);
}

static void test_shm_not_taken(void **state) {
  ShmFixture *s = shm_setup(FALSE);
  Fixture *f = &s->base;
  assert_null(tandem_guest_link_get_pixel_region(f->link));
  send_shm_damage(f, 1, 1, TP_SHM_HEADER_SIZE, 4);
  expect_violation(f, "not offered");
  assert_int_equal(f->window_msgs, 1); /* the CREATE only */
  shm_teardown(s);
}

/* Every way of pointing outside the region, or into its header, ends the
 * session before a proxy reads a byte. */
static void test_shm_outside_refused(void **state) {
  static const struct {
    uint16_t w, h;
    uint32_t offset, stride;
    const char *why;
  } bad[] = {
      {1, 1, REGION_SIZE, 4, "just past the end"},
      {2, 1, REGION_SIZE - 4, 8, "its last pixel past the end"},
      {16, 16, 0, 64, "in the header"},
      {16, 16, TP_SHM_HEADER_SIZE - 4, 64, "overlapping the header"},
      {16, 2, TP_SHM_HEADER_SIZE, 60, "rows narrower than the rectangle"},
      {16, 2, TP_SHM_HEADER_SIZE + 2, 64, "misaligned"},
      {1, 8192, TP_SHM_HEADER_SIZE, 0xfffffffcu, "rows 4 GiB apart"},
      {1, 1, 0xfffffffcu, 4, "at the end of the offset space"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    ShmFixture *s = shm_setup(TRUE);
    Fixture *f = &s->base;
    send_shm_damage(f, bad[i].w, bad[i].h, bad[i].offset, bad[i].stride);
    assert_true(tandem_test_wait(is_closed, f, 5000));
    if (!strstr(f->closed, "outside"))
      fail_msg("%s: closed for “%s”", bad[i].why, f->closed);
    assert_int_equal(f->window_msgs, 1);
    shm_teardown(s);
  }
}

/* LZ4 rectangles pass when the agent offered LZ4 too (the link always
 * does), and end the session when it did not. */
static void send_lz4_damage(Fixture *f) {
  uint8_t block[16] = {0x1f, 0, 0, 0, 0}; /* the decoder checks, not this */
  TpRect r = {0, 0, 4, 4, sizeof(block), block};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = 5};
  m.u.damage = (TpDamage){1, TP_ENCODING_LZ4, TP_DAMAGE_FRAME_END, 1, &r};
  agent_send(f, &m);
}

static void test_lz4_offered(void **state) {
  Fixture *f = *state;
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION,
                        TP_CAP_WM | TP_CAP_LZ4, 0, 0, 1024, 768, 100, 0,
                        "Test OS", "test agent", ""};
  agent_send(f, &m);
  assert_true(tandem_test_wait(is_ready, f, 5000));
  create(f, 5, 0);
  send_lz4_damage(f);
  create(f, 6, 0);
  assert_true(tandem_test_wait(three_messages, f, 5000));
  assert_null(f->closed);
}

static void test_lz4_not_offered(void **state) {
  Fixture *f = *state;
  hello(f); /* no TP_CAP_LZ4 */
  create(f, 5, 0);
  send_lz4_damage(f);
  expect_violation(f, "not offered");
}

/* A copy within the window (a scroll) needs TP_CAP_COPY from both. */
static void send_copy(Fixture *f) {
  uint8_t ref[TP_COPY_REF_SIZE];
  tp_copy_ref_write(ref, &(TpCopyRef){0, 8});
  TpRect r = {0, 0, 16, 8, TP_COPY_REF_SIZE, ref};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = 5};
  m.u.damage = (TpDamage){1, TP_ENCODING_COPY, TP_DAMAGE_FRAME_END, 1, &r};
  agent_send(f, &m);
}

static void test_copy_offered(void **state) {
  Fixture *f = *state;
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION,
                        TP_CAP_WM | TP_CAP_COPY, 0, 0, 1024, 768, 100, 0,
                        "Test OS", "test agent", ""};
  agent_send(f, &m);
  assert_true(tandem_test_wait(is_ready, f, 5000));
  assert_true(tandem_guest_link_get_caps(f->link) & TP_CAP_COPY);
  create(f, 5, 0);
  send_copy(f);
  create(f, 6, 0);
  assert_true(tandem_test_wait(three_messages, f, 5000));
  assert_null(f->closed);
}

static void test_bgr_not_offered(void **state) {
  Fixture *f = *state;
  hello(f); /* no TP_CAP_BGR */
  create(f, 5, 0);
  static const uint8_t block[] = {0x30, 0, 0, 0}; /* some LZ4 bytes */
  TpRect r = {0, 0, 1, 1, sizeof(block), block};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = 5};
  m.u.damage = (TpDamage){1, TP_ENCODING_LZ4_BGR, TP_DAMAGE_FRAME_END, 1, &r};
  agent_send(f, &m);
  expect_violation(f, "not offered");
}

static void test_copy_not_offered(void **state) {
  Fixture *f = *state;
  hello(f); /* no TP_CAP_COPY */
  create(f, 5, 0);
  send_copy(f);
  expect_violation(f, "not offered");
}

/* The host's region: its header, where a rectangle is, and its file,
 * removed by the last reference only if no newer run made another. */
static void test_region_file(void **state) {
  g_autofree char *dir = g_dir_make_tmp("tandem-region-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "pixels", NULL);
  TandemPixelRegion *old = tandem_pixel_region_create(path, REGION_SIZE,
                                                      NULL);
  assert_non_null(old);
  g_autofree char *data = NULL;
  gsize len = 0;
  assert_true(g_file_get_contents(path, &data, &len, NULL));
  assert_int_equal(len, REGION_SIZE);
  assert_true(tp_shm_header_check((const uint8_t *)data, REGION_SIZE));

  uint8_t ref[TP_SHM_REF_SIZE];
  tp_shm_ref_write(ref, &(TpShmRef){TP_SHM_HEADER_SIZE, 64});
  TpRect r = {0, 0, 16, 2, TP_SHM_REF_SIZE, ref};
  size_t stride = 0;
  TpError err;
  assert_non_null(tandem_pixel_region_locate(old, &r, &stride, &err));
  assert_int_equal(stride, 64);
  tp_shm_ref_write(ref, &(TpShmRef){REGION_SIZE - 64, 64});
  assert_null(tandem_pixel_region_locate(old, &r, &stride, &err));
  assert_int_equal(err, TP_ERR_BAD_VALUE);

  /* The VM runs again while a proxy still holds the old region. */
  TandemPixelRegion *now = tandem_pixel_region_create(path, REGION_SIZE,
                                                      NULL);
  assert_non_null(now);
  tandem_pixel_region_unref(old);
  assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
  tandem_pixel_region_unref(now);
  assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
  g_rmdir(dir);
}

static void test_garbage_bytes(void **state) {
  Fixture *f = *state;
  hello(f);
  static const uint8_t junk[24] = {0xff, 0xff, 1, 0, 9, 9, 9, 9, 0xff, 0xff};
  assert_int_equal(write(f->agent_fd, junk, sizeof(junk)), sizeof(junk));
  assert_true(tandem_test_wait(is_closed, f, 5000));
  assert_non_null(strstr(f->closed, "bad frame"));
}

static void launched(GObject *src, GAsyncResult *res, gpointer d) {
  GError **out = d;
  tandem_guest_link_launch_finish(TANDEM_GUEST_LINK(src), res, out);
  if (!*out)
    *out = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_EXISTS, "started");
}

static gboolean error_set(gpointer d) { return *(GError **)d != NULL; }

static void test_launch_fails_when_link_drops(void **state) {
  Fixture *f = *state;
  hello(f);
  GError *error = NULL;
  tandem_guest_link_launch_async(f->link, "app0", NULL, NULL, NULL, launched,
                                 &error);
  close(f->agent_fd); /* the guest goes away before answering */
  f->agent_fd = -1;
  assert_true(tandem_test_wait(error_set, &error, 5000));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  g_error_free(error);
  f->agent_fd = dup(0);
}

/* HELLOs the link has sent so far. */
static guint count_hellos(Fixture *f) {
  uint8_t buf[65536];
  ssize_t n;
  guint hellos = 0;
  TpMessage m;
  while ((n = read(f->agent_fd, buf, sizeof(buf))) > 0) {
    size_t off = 0;
    while (off < (size_t)n) {
      off += tp_reader_feed(f->reader, buf + off, (size_t)n - off);
      while (tp_reader_next(f->reader, &m) == TP_OK)
        hellos += m.type == TP_MSG_HELLO;
    }
  }
  return hellos;
}

static gboolean all_created_twice(gpointer d) {
  return ((Fixture *)d)->window_msgs == 2 * TP_MAX_WINDOWS;
}

static void on_state(TandemGuestLink *l, gpointer d) {
  if (tandem_guest_link_get_state(l) == TANDEM_GUEST_LINK_HANDSHAKE)
    (*(guint *)d)++;
}

/* A restarted agent's HELLO on the same connection starts the session
 * over: the state passes HANDSHAKE (the proxies go), ids and the window
 * limit are counted afresh, and a launch the old agent never answered
 * fails. */
static void test_second_hello_starts_over(void **state) {
  Fixture *f = *state;
  hello(f);
  for (uint32_t i = 1; i <= TP_MAX_WINDOWS; i++)
    create(f, i, 0);
  GError *error = NULL;
  tandem_guest_link_launch_async(f->link, "app0", NULL, NULL, NULL, launched,
                                 &error);
  guint restarts = 0;
  g_signal_connect(f->link, "state-changed", G_CALLBACK(on_state), &restarts);
  hello(f); /* returns at once: the link is still READY */
  assert_true(tandem_test_wait(error_set, &error, 5000));
  assert_int_equal(restarts, 1);
  assert_true(is_ready(f));
  /* The new agent gets the host's HELLO, as on a new connection: two in
   * all. */
  assert_int_equal(count_hellos(f), 2);
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  assert_non_null(strstr(error->message, "started again"));
  g_error_free(error);
  /* The same ids again, all of them: not "created twice", not too many. */
  for (uint32_t i = 1; i <= TP_MAX_WINDOWS; i++)
    create(f, i, 0);
  assert_true(tandem_test_wait(all_created_twice, f, 5000));
  assert_null(f->closed);
  /* But still not twice within the new session, nor one more. */
  create(f, TP_MAX_WINDOWS + 1, 0);
  expect_violation(f, "too many windows");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* writing to a link that hung up is expected */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catalog, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catalog_longer_than_announced,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_before_hello, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_too_many_before_hello, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unknown_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_created_twice, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_transient_for_unknown, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_too_many_windows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_destroyed_window_is_gone, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_garbage_bytes, setup, teardown),
      cmocka_unit_test(test_shm_offered_and_used),
      cmocka_unit_test(test_region_file),
      cmocka_unit_test_setup_teardown(test_lz4_offered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lz4_not_offered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_offered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_not_offered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bgr_not_offered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_too_old, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_identity_kept, setup,
                                      teardown),
      cmocka_unit_test(test_shm_not_taken),
      cmocka_unit_test(test_shm_outside_refused),
      cmocka_unit_test_setup_teardown(test_second_hello_starts_over, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_launch_fails_when_link_drops,
                                      setup, teardown),
  };
  return cmocka_run_group_tests_name("guest-link", tests, NULL, NULL);
}
