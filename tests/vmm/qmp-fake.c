/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qmp-fake.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Commands with several disks run to a few KiB; a longer line is cut. */
#define LINE_MAX_BYTES 65536

static int read_line(int fd, char *buf, size_t cap, int *passed_fd) {
  size_t len = 0;
  while (len + 1 < cap) {
    char c;
    struct iovec iov = {&c, 1};
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (passed_fd && len == 0) {
      msg.msg_control = ctl.b;
      msg.msg_controllen = sizeof(ctl.b);
    }
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n <= 0)
      return -1;
    if (passed_fd && len == 0) {
      struct cmsghdr *c0 = CMSG_FIRSTHDR(&msg);
      if (c0 && c0->cmsg_type == SCM_RIGHTS)
        memcpy(passed_fd, CMSG_DATA(c0), sizeof(int));
    }
    if (c == '\n')
      break;
    buf[len++] = c;
  }
  buf[len] = '\0';
  return (int)len;
}

/* The command's own "id", not one of its arguments' (device_del has an
 * "id" argument); -1 if there is none. Lines that are not JSON (tests of
 * broken clients) fall back to the first "id" in the text. */
static long long id_of(const char *line) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (json_parser_load_from_data(parser, line, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    return json_object_get_int_member_with_default(
        json_node_get_object(json_parser_get_root(parser)), "id", -1);
  const char *p = strstr(line, "\"id\":");
  return p ? atoll(p + 5) : -1;
}

/* Whether @line, without its "id" (stored in @id), is the same JSON as
 * @expect (member order aside); if not, says why in @failure. The id is
 * read from the parsed command: arguments may have an "id" of their own. */
static gboolean same_command(const char *line, const char *expect,
                             long long *id, char *failure, gsize size) {
  g_autoptr(JsonParser) got = json_parser_new();
  g_autoptr(JsonParser) want = json_parser_new();
  if (!json_parser_load_from_data(want, expect, -1, NULL)) {
    snprintf(failure, size, "the script's JSON is invalid: %s", expect);
    return FALSE;
  }
  if (!json_parser_load_from_data(got, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(got))) {
    snprintf(failure, size, "not a JSON object: %.900s", line);
    return FALSE;
  }
  JsonObject *command = json_node_get_object(json_parser_get_root(got));
  *id = json_object_get_int_member_with_default(command, "id", -1);
  json_object_remove_member(command, "id");
  if (!json_node_equal(json_parser_get_root(got),
                       json_parser_get_root(want))) {
    snprintf(failure, size, "wanted %.490s, got %.490s", expect, line);
    return FALSE;
  }
  return TRUE;
}

/* Writes @text with "%lld" replaced by @id, and QMP's CRLF. */
static void say(int fd, const char *text, long long id) {
  g_autoptr(GString) line = g_string_new(text);
  g_autofree char *num = g_strdup_printf("%lld", id);
  g_string_replace(line, "%lld", num, 1);
  g_string_append(line, "\r\n");
  for (gsize done = 0; done < line->len;) {
    ssize_t n = write(fd, line->str + done, line->len - done);
    if (n <= 0) {
      g_warning("fake server: short write");
      return;
    }
    done += (gsize)n;
  }
}

static gpointer fake_thread(gpointer data) {
  Fake *f = data;
  int fd = accept(f->listen_fd, NULL, NULL);
  g_autofree char *line = g_malloc(LINE_MAX_BYTES);
  long long id;
  for (const Step *s = f->script; s->op != END; s++) {
    switch (s->op) {
    case SEND:
      say(fd, s->text, 0);
      break;
    case REPLY:
    case READ:
      if (read_line(fd, line, LINE_MAX_BYTES, NULL) < 0 ||
          !strstr(line, s->expect)) {
        snprintf(f->failure, sizeof(f->failure), "wanted %.100s, got %.100s",
                 s->expect, line);
        goto out;
      }
      if (s->op == REPLY)
        say(fd, s->text, id_of(line));
      else
        f->ids[f->n_ids++] = id_of(line);
      break;
    case EXPECT:
      if (read_line(fd, line, LINE_MAX_BYTES, NULL) < 0) {
        snprintf(f->failure, sizeof(f->failure), "wanted %.900s, got EOF",
                 s->expect);
        goto out;
      }
      if (!same_command(line, s->expect, &id, f->failure,
                        sizeof(f->failure)))
        goto out;
      say(fd, s->text, id);
      break;
    case SEND_ID:
      say(fd, s->text, f->ids[s->n]);
      break;
    case RECV_FD: {
      int passed = -1;
      if (read_line(fd, line, LINE_MAX_BYTES, &passed) < 0 || passed < 0) {
        snprintf(f->failure, sizeof(f->failure), "no fd with %.200s",
                 line);
        goto out;
      }
      ssize_t n = read(passed, f->fd_data, sizeof(f->fd_data) - 1);
      f->fd_data[n > 0 ? n : 0] = '\0';
      close(passed);
      id = id_of(line);
      if (s->expect && !same_command(line, s->expect, &id, f->failure,
                                     sizeof(f->failure)))
        goto out;
      say(fd, "{\"return\": {}, \"id\": %lld}", id);
      break;
    }
    case SEND_RAW: {
      char *x = g_malloc(s->n);
      memset(x, 'x', s->n);
      if (write(fd, x, s->n) != s->n)
        g_warning("short write");
      g_free(x);
      break;
    }
    case WAIT_EOF:
      while (read_line(fd, line, LINE_MAX_BYTES, NULL) >= 0)
        ;
      break;
    case CLOSE:
    case END:
      goto out;
    }
  }
out:
  close(fd);
  return NULL;
}

Fake *fake_start(const Step *script) {
  Fake *f = g_new0(Fake, 1);
  g_autofree char *dir = g_dir_make_tmp("qmp-XXXXXX", NULL);
  g_strlcpy(f->dir, dir, sizeof(f->dir));
  snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, f->path, sizeof(sa.sun_path));
  f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(f->listen_fd, 1), 0);
  f->script = script;
  f->thread = g_thread_new("fake-qmp", fake_thread, f);
  return f;
}

void fake_finish_with_data(Fake *f, char fd_data[64]) {
  g_thread_join(f->thread);
  if (fd_data)
    memcpy(fd_data, f->fd_data, sizeof(f->fd_data));
  close(f->listen_fd);
  g_unlink(f->path);
  g_rmdir(f->dir);
  if (f->failure[0]) {
    char failure[sizeof(f->failure)];
    memcpy(failure, f->failure, sizeof(failure));
    g_free(f);
    fail_msg("fake server: %s", failure);
  }
  g_free(f);
}

void fake_finish(Fake *f) { fake_finish_with_data(f, NULL); }
