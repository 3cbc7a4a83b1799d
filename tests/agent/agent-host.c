/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "agent-host.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

AgentHost agent_host_accept(int listen_fd, int ms) {
  struct pollfd p = {listen_fd, POLLIN, 0};
  if (poll(&p, 1, ms) != 1)
    fail_msg("the agent did not connect within %d ms", ms);
  AgentHost h = {accept(listen_fd, NULL, NULL), tp_reader_new(TP_ROLE_HOST)};
  assert_true(h.fd >= 0);
  return h;
}

gboolean agent_host_connect(AgentHost *h, const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
  h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(h->fd);
    h->fd = -1;
    return FALSE;
  }
  h->reader = tp_reader_new(TP_ROLE_HOST);
  return TRUE;
}

void agent_host_close(AgentHost *h) {
  if (h->fd >= 0)
    close(h->fd);
  g_clear_pointer(&h->reader, tp_reader_free);
  h->fd = -1;
}

void agent_host_send(AgentHost *h, const TpMessage *m) {
  TpBuf b;
  tp_buf_init(&b);
  assert_int_equal(tp_encode(m, &b), TP_OK);
  assert_int_equal(write(h->fd, b.data, b.len), (ssize_t)b.len);
  tp_buf_clear(&b);
}

gboolean agent_host_next(AgentHost *h, TpMessage *m, int ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  for (;;) {
    TpError err = tp_reader_next(h->reader, m);
    if (err == TP_OK)
      return TRUE;
    if (err != TP_AGAIN)
      fail_msg("the agent sent a bad frame: %s", tp_error_to_string(err));
    int left = (int)((end - g_get_monotonic_time()) / 1000);
    struct pollfd p = {h->fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) != 1)
      return FALSE;
    size_t avail;
    uint8_t *buf = tp_reader_prepare(h->reader, &avail);
    ssize_t n = read(h->fd, buf, avail);
    if (n <= 0)
      return FALSE;
    tp_reader_commit(h->reader, (size_t)n);
  }
}

void agent_host_expect(AgentHost *h, TpMessage *m, uint16_t type, int ms) {
  if (!agent_host_next(h, m, ms))
    fail_msg("no %s from the agent", tp_message_type_name(type));
  if (m->type != type)
    fail_msg("wanted %s, got %s", tp_message_type_name(type),
             tp_message_type_name(m->type));
}

void agent_host_say_hello(AgentHost *h) { agent_host_say_hello_caps(h, 0); }

void agent_host_say_hello_caps(AgentHost *h, uint64_t caps) {
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION, TP_CAP_SVG_ICONS | caps, 0, 0, 1920, 1080,
                        100, 32, "Debian GNU/Linux 12", "test host",
                        "de_DE.UTF-8"};
  agent_host_send(h, &m);
}

static void item_free(CatalogItem *i) {
  g_free(i->id);
  g_free(i->name);
  g_free(i->wm_class);
  g_free(i);
}

GPtrArray *agent_host_read_catalog(AgentHost *h, int ms) {
  TpMessage m;
  GPtrArray *items = g_ptr_array_new_with_free_func((GDestroyNotify)item_free);
  agent_host_expect(h, &m, TP_MSG_APP_LIST_BEGIN, ms);
  uint32_t count = m.u.app_list_begin.count;
  uint32_t generation = m.u.app_list_begin.generation;
  for (uint32_t i = 0; i < count; i++) {
    agent_host_expect(h, &m, TP_MSG_APP_ENTRY, ms);
    CatalogItem *it = g_new0(CatalogItem, 1);
    it->id = g_strdup(m.u.app.id);
    it->name = g_strdup(m.u.app.name);
    it->wm_class = g_strdup(m.u.app.startup_wm_class);
    it->icon_len = m.u.app.icon_png.len;
    g_ptr_array_add(items, it);
  }
  agent_host_expect(h, &m, TP_MSG_APP_LIST_END, ms);
  assert_int_equal(m.u.app_list_end.generation, generation);
  return items;
}

const CatalogItem *agent_host_find(GPtrArray *catalog, const char *id) {
  for (guint i = 0; i < catalog->len; i++)
    if (g_str_equal(((CatalogItem *)catalog->pdata[i])->id, id))
      return catalog->pdata[i];
  return NULL;
}
