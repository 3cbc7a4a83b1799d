/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The real tandem-mount-helper and tandem-mount binaries over a UNIX
 * socket, on the fixture of mount-fixture.c: TandemMounter and the client
 * functions as the agent uses them, raw bytes, the command-line client, a
 * helper that refuses the peer, and a mounter disposed with requests in
 * flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount-fixture.h"
#include "tandem-agent-mount.h"
#include "test-wait.h"

typedef struct {
  GPid pid;
  int err_fd;
  GString *log;
  gboolean listening, exited;
  int status;
  guint watch, child_watch;
  char *socket;
} Helper;

static gboolean on_helper_output(GIOChannel *ch, GIOCondition cond,
                                 gpointer data) {
  Helper *h = data;
  char buf[4096];
  ssize_t n = read(h->err_fd, buf, sizeof buf);
  if (n <= 0) {
    h->watch = 0;
    return G_SOURCE_REMOVE;
  }
  g_string_append_len(h->log, buf, n);
  if (strstr(h->log->str, "listening on"))
    h->listening = TRUE;
  return G_SOURCE_CONTINUE;
}

static void on_helper_exit(GPid pid, int status, gpointer data) {
  Helper *h = data;
  h->status = status;
  h->exited = TRUE;
  h->child_watch = 0;
  g_spawn_close_pid(pid);
}

static char *build_file(const char *rel) {
  const char *build = g_getenv("TANDEM_BUILD_ROOT");
  if (!build)
    fail_msg("TANDEM_BUILD_ROOT is not set (run with meson test)");
  return g_build_filename(build, rel, NULL);
}

/* Starts tandem-mount-helper on the fixture; waits until it listens. */
static void helper_start(Helper *h, const char *name, const char *allow) {
  g_autofree char *exe = build_file("guest-agent/mount/tandem-mount-helper");
  h->socket = g_build_filename(root, name, NULL);
  g_autofree char *owner = g_strdup_printf("--owner=%u:%u", (unsigned)getuid(),
                                           (unsigned)getgid());
  g_autofree char *sock = g_strdup_printf("--socket=%s", h->socket);
  g_autofree char *b = g_strdup_printf("--base=%s", base);
  g_autofree char *s = g_strdup_printf("--sysfs-root=%s", sysfs);
  g_autofree char *d = g_strdup_printf("--dev-root=%s", devdir);
  g_autofree char *mi = g_strdup_printf("--mountinfo=%s", mountinfo);
  g_autofree char *a = allow ? g_strdup_printf("--allow-uid=%s", allow)
                             : g_strdup("--request-timeout=2000");
  const char *argv[] = {exe, owner, sock, b, s, d, mi, a, NULL};
  h->log = g_string_new("");
  g_autoptr(GError) error = NULL;
  if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &h->pid, NULL, NULL, &h->err_fd, &error))
    fail_msg("cannot start %s: %s", exe, error->message);
  GIOChannel *ch = g_io_channel_unix_new(h->err_fd);
  h->watch = g_io_add_watch(ch, G_IO_IN | G_IO_HUP | G_IO_ERR,
                            on_helper_output, h);
  g_io_channel_unref(ch);
  h->child_watch = g_child_watch_add(h->pid, on_helper_exit, h);
  if (!tandem_test_wait(&h->listening, 10))
    fail_msg("the helper did not listen within 10 s: %s", h->log->str);
  struct stat st;
  assert_int_equal(lstat(h->socket, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_uid, getuid());
}

/* Stops it; its socket is gone after, unless @socket_kept (systemd's). */
static void helper_stop_full(Helper *h, gboolean socket_kept) {
  kill(h->pid, SIGTERM);
  if (!tandem_test_wait(&h->exited, 10))
    fail_msg("the helper did not stop on SIGTERM");
  assert_true(WIFEXITED(h->status));
  assert_int_equal(WEXITSTATUS(h->status), 0);
  assert_int_equal(g_file_test(h->socket, G_FILE_TEST_EXISTS), socket_kept);
  if (socket_kept)
    unlink(h->socket);
  while (h->watch)
    g_main_context_iteration(NULL, TRUE);
  close(h->err_fd);
  g_string_free(h->log, TRUE);
  g_clear_pointer(&h->socket, g_free);
}

static void helper_stop(Helper *h) {
  helper_stop_full(h, FALSE);
}

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits (bounded) until the helper has logged @text. */
static void wait_log(Helper *h, const char *text) {
  gboolean expired = FALSE;
  guint id = g_timeout_add(10000, on_deadline, &expired);
  while (!strstr(h->log->str, text) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (expired)
    fail_msg("the helper never logged “%s”: %s", text, h->log->str);
  g_source_remove(id);
}

/* One raw exchange with the helper's socket. */
static char *raw_exchange(const char *path, const char *data, gsize len) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  g_strlcpy(addr.sun_path, path, sizeof addr.sun_path);
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (len) {
    /* A helper that refuses the peer may answer and hang up before the
     * request is even sent: then the answer is still there to read. */
    ssize_t sent = send(fd, data, len, MSG_NOSIGNAL);
    if (sent != (ssize_t)len && errno != EPIPE && errno != ECONNRESET)
      fail_msg("cannot send to %s: %s", path, g_strerror(errno));
  }
  GString *reply = g_string_new("");
  char buf[1024];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    g_string_append_len(reply, buf, n);
  close(fd);
  return g_string_free(reply, FALSE);
}

typedef struct {
  TandemMountResult *result;
  GError *error;
  gboolean done;
} Finished;

static void on_request_done(GObject *src, GAsyncResult *res, gpointer data) {
  Finished *f = data;
  f->result = tandem_mount_request_finish(res, &f->error);
  f->done = TRUE;
}

static void on_unmount_request_done(GObject *src, GAsyncResult *res,
                                    gpointer data) {
  Finished *f = data;
  f->result = tandem_unmount_request_finish(res, &f->error);
  f->done = TRUE;
}

static int run_client(const char *socket_path, const char *const *args,
                      char **out, char **err) {
  g_autofree char *exe = build_file("guest-agent/mount/tandem-mount");
  g_autofree char *sock = g_strdup_printf("--socket=%s", socket_path);
  GPtrArray *argv = g_ptr_array_new();
  g_ptr_array_add(argv, exe);
  g_ptr_array_add(argv, sock);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add(argv, (char *)args[i]);
  g_ptr_array_add(argv, NULL);
  int status = -1;
  assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL,
                           out, err, &status, NULL));
  g_ptr_array_unref(argv);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void test_helper_socket(void **state) {
  fresh_mounts(state);
  Helper h = {0};
  helper_start(&h, "mount.sock", NULL);

  /* Through TandemMounter, as the agent asks. */
  g_autoptr(TandemMounter) mounter = tandem_mounter_new_for_socket(h.socket);
  assert_has(tandem_mounter_describe(mounter), h.socket);
  Collected got = {g_ptr_array_new_with_free_func(g_free), 3, FALSE};
  TpMount nope = {1, "no-such-disk", "x", 0};
  TpMount real = {2, "tandem-data", "data", 0};
  TpUnmount home = {3, "home"};
  tandem_mounter_mount(mounter, &nope, collect, &got);
  tandem_mounter_mount(mounter, &real, collect, &got);
  tandem_mounter_unmount(mounter, &home, collect, &got);
  assert_true(tandem_test_wait(&got.done, 30));
  assert_string_equal(got.results->pdata[0], "1 not-found ");
  /* The helper really calls mount(2), on a fixture file: refused (EPERM,
   * or ENOTBLK as root), and the mount point is removed again. */
  assert_string_equal(got.results->pdata[1], "2 failed ");
  g_autofree char *mp = mp_path("data");
  assert_false(g_file_test(mp, G_FILE_TEST_EXISTS));
  assert_string_equal(got.results->pdata[2], "3 failed ");
  g_ptr_array_unref(got.results);

  /* The client functions themselves. */
  Finished f = {0};
  TpMount bad_label = {4, "plain", "../../etc", 0};
  tandem_mount_request_async(h.socket, &bad_label, NULL, on_request_done, &f);
  assert_true(tandem_test_wait(&f.done, 10));
  assert_null(f.error);
  assert_int_equal(f.result->status, TP_MOUNT_FAILED);
  assert_has(f.result->message, "cannot be a mount label");
  tandem_mount_result_free(f.result);
  f = (Finished){0};
  TpUnmount u = {5, "plain"};
  tandem_unmount_request_async(h.socket, &u, NULL, on_unmount_request_done,
                               &f);
  assert_true(tandem_test_wait(&f.done, 10));
  assert_null(f.error);
  assert_int_equal(f.result->status, TP_MOUNT_OK);
  assert_has(f.result->message, "not mounted");
  tandem_mount_result_free(f.result);

  /* Raw bytes: bad requests get an answer, and the helper serves on. */
  struct {
    const char *data;
    gsize len;
    const char *says;
  } raw[] = {
      {"hello\n", 6, "bad request: expected"},
      {"mount a b rw\nmore", 17, "bytes after the request line"},
      {"mount a\0b rw\n", 13, "NUL"},
      {"mount a b rw", 12, "hung up"}, /* then half-closed below */
      {"", 0, "no request in time"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(raw); i++) {
    g_autofree char *reply = NULL;
    if (i == 3) {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      struct sockaddr_un addr = {.sun_family = AF_UNIX};
      g_strlcpy(addr.sun_path, h.socket, sizeof addr.sun_path);
      assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
      assert_int_equal(send(fd, raw[i].data, raw[i].len, MSG_NOSIGNAL),
                       (ssize_t)raw[i].len);
      shutdown(fd, SHUT_WR);
      char buf[2048];
      ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      close(fd);
      reply = g_strndup(buf, n > 0 ? (gsize)n : 0);
    } else {
      reply = raw_exchange(h.socket, raw[i].data, raw[i].len);
    }
    if (!g_str_has_prefix(reply, "2\t\t"))
      fail_msg("raw request %u: reply “%s”", i, reply);
    assert_has(reply, "refused the request");
    wait_log(&h, raw[i].says);
  }
  char big[TANDEM_MOUNT_MAX_REQUEST + 100];
  memset(big, 'x', sizeof big);
  g_autofree char *too_long = raw_exchange(h.socket, big, sizeof big);
  assert_has(too_long, "too long");
  wait_log(&h, "the request is too long");

  /* The command-line client: mount point on stdout, message on stderr,
   * the status as exit status. */
  g_autofree char *out = NULL, *err = NULL;
  const char *args1[] = {"mount", "no-such-disk", "x", "ro", NULL};
  assert_int_equal(run_client(h.socket, args1, &out, &err), 1);
  assert_string_equal(out, "");
  assert_has(err, "Attach it first");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  const char *args2[] = {"unmount", "plain", NULL};
  assert_int_equal(run_client(h.socket, args2, &out, &err), 0);
  assert_has(err, "not mounted");
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);
  const char *args3[] = {"mount", "x", NULL};
  assert_int_equal(run_client(h.socket, args3, &out, &err), 64);
  g_clear_pointer(&out, g_free);
  g_clear_pointer(&err, g_free);

  g_autofree char *gone = g_strdup(h.socket);
  helper_stop(&h);

  /* Nobody listening: a result that says what to do, not an error. */
  Collected none = {g_ptr_array_new_with_free_func(g_free), 1, FALSE};
  tandem_mounter_mount(mounter, &nope, collect, &none);
  assert_true(tandem_test_wait(&none.done, 10));
  assert_string_equal(none.results->pdata[0], "1 failed ");
  g_ptr_array_unref(none.results);
  f = (Finished){0};
  tandem_mount_request_async(gone, &nope, NULL, on_request_done, &f);
  assert_true(tandem_test_wait(&f.done, 10));
  assert_null(f.result);
  assert_non_null(f.error);
  assert_has(f.error->message, "cannot ask the mount service");
  g_error_free(f.error);
}

static void test_helper_refuses_peers(void **state) {
  fresh_mounts(state);
  Helper h = {0};
  g_autofree char *other = g_strdup_printf("%u", (unsigned)getuid() + 1);
  helper_start(&h, "strict.sock", other);
  g_autofree char *reply =
      raw_exchange(h.socket, "mount plain x rw\n", 17);
  g_autofree char *says = g_strdup_printf("uid %u may not use",
                                          (unsigned)getuid());
  assert_true(g_str_has_prefix(reply, "2\t\t"));
  assert_has(reply, says);
  wait_log(&h, "refused uid");
  assert_int_equal(mount_calls->len, 0);
  helper_stop(&h);
}

/* As systemd starts it (tandem-mount-helper.socket): the listening socket
 * as fd 3 with LISTEN_PID and LISTEN_FDS; the owner is whoever logind says
 * is at the seat, asked at each request. */
static int activation_fd = -1;

static void as_systemd_would(gpointer data) {
  dup2(activation_fd, 3);
  g_autofree char *pid = g_strdup_printf("%d", (int)getpid());
  g_setenv("LISTEN_PID", pid, TRUE);
  g_setenv("LISTEN_FDS", "1", TRUE);
}

static void write_seat(const char *path, uid_t uid) {
  g_autofree char *text = g_strdup_printf(
      "# This is private data. Do not parse.\nIS_SEAT0=1\nACTIVE=c1\n"
      "ACTIVE_UID=%u\n", (unsigned)uid);
  assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void test_helper_activated_for_the_seat(void **state) {
  fresh_mounts(state);
  Helper h = {0};
  h.socket = g_build_filename(root, "activated.sock", NULL);
  g_autofree char *seat = g_build_filename(root, "seat0", NULL);
  /* The socket systemd would make. */
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, h.socket, sizeof sa.sun_path);
  activation_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(activation_fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(activation_fd, 8), 0);
  g_autofree char *exe = build_file("guest-agent/mount/tandem-mount-helper");
  g_autofree char *b = g_strdup_printf("--base=%s", base);
  g_autofree char *s = g_strdup_printf("--sysfs-root=%s", sysfs);
  g_autofree char *d = g_strdup_printf("--dev-root=%s", devdir);
  g_autofree char *mi = g_strdup_printf("--mountinfo=%s", mountinfo);
  g_autofree char *sf = g_strdup_printf("--seat-file=%s", seat);
  const char *argv[] = {exe, "--owner=seat", b, s, d, mi, sf, NULL};
  h.log = g_string_new("");
  g_autoptr(GError) error = NULL;
  if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD |
                                    G_SPAWN_LEAVE_DESCRIPTORS_OPEN,
                                as_systemd_would, NULL, &h.pid, NULL, NULL,
                                &h.err_fd, &error))
    fail_msg("cannot start %s: %s", exe, error->message);
  close(activation_fd);
  GIOChannel *ch = g_io_channel_unix_new(h.err_fd);
  h.watch = g_io_add_watch(ch, G_IO_IN | G_IO_HUP | G_IO_ERR,
                           on_helper_output, &h);
  g_io_channel_unref(ch);
  h.child_watch = g_child_watch_add(h.pid, on_helper_exit, &h);
  assert_true(tandem_test_wait(&h.listening, 10));
  assert_has(h.log->str, "the socket systemd gave it");

  /* Nobody at the seat: refused, saying so. */
  g_autofree char *r1 = raw_exchange(h.socket, "unmount plain\n", 14);
  assert_has(r1, "Nobody is logged in at the seat");
  /* We are at the seat: served. */
  write_seat(seat, getuid());
  g_autofree char *r2 = raw_exchange(h.socket, "unmount plain\n", 14);
  assert_true(g_str_has_prefix(r2, "0\t"));
  assert_has(r2, "not mounted");
  /* Someone else is: we may not ask any more (unless we are root, who
   * always may). */
  write_seat(seat, getuid() + 1);
  g_autofree char *r3 = raw_exchange(h.socket, "unmount plain\n", 14);
  g_autofree char *says = g_strdup_printf("uid %u may not use",
                                          (unsigned)getuid());
  if (getuid() != 0)
    assert_has(r3, says);
  else
    assert_true(g_str_has_prefix(r3, "0\t"));
  assert_int_equal(mount_calls->len, 0);
  helper_stop_full(&h, TRUE); /* the socket is systemd's: left there */
}

/* Disposing the mounter cancels: no callback comes afterwards. */
static void never(const TpMountResult *r, gpointer data) {
  fail_msg("a callback after the mounter was disposed");
}

static void test_mounter_dispose(void **state) {
  g_autofree char *sock = g_build_filename(root, "nobody.sock", NULL);
  TandemMounter *mounter = tandem_mounter_new_for_socket(sock);
  TpMount m = {1, "plain", "x", 0};
  TpUnmount u = {2, "plain"};
  tandem_mounter_mount(mounter, &m, never, NULL);
  tandem_mounter_unmount(mounter, &u, never, NULL);
  g_object_unref(mounter);
  while (g_main_context_pending(NULL))
    g_main_context_iteration(NULL, FALSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_helper_socket),
      cmocka_unit_test(test_helper_refuses_peers),
      cmocka_unit_test(test_helper_activated_for_the_seat),
      cmocka_unit_test(test_mounter_dispose),
  };
  return cmocka_run_group_tests_name("mount-helper", tests,
                                     mount_fixture_setup,
                                     mount_fixture_teardown);
}
