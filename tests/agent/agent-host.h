/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A minimal host for tests that talk to a real tandem-agent: blocking
 * socket I/O with bounded waits, frames through the protocol library. */
#pragma once

#include <glib.h>

#include "tandem-protocol.h"

typedef struct {
  int fd;
  TpReader *reader;
} AgentHost;

typedef struct {
  char *id, *name, *wm_class;
  guint icon_len;
} CatalogItem;

/* Accepts on @listen_fd within @ms (fails the test otherwise). */
AgentHost agent_host_accept(int listen_fd, int ms);
/* Connects to a UNIX socket (e.g. QEMU's agent chardev). */
gboolean agent_host_connect(AgentHost *h, const char *path);
void agent_host_close(AgentHost *h);

void agent_host_send(AgentHost *h, const TpMessage *m);
/* The next message within @ms; FALSE on timeout or a closed channel. */
gboolean agent_host_next(AgentHost *h, TpMessage *m, int ms);
/* The next message, which must be of @type, within @ms. */
void agent_host_expect(AgentHost *h, TpMessage *m, uint16_t type, int ms);

/* Sends the host's HELLO: locale de_DE.UTF-8, icon size 32. */
void agent_host_say_hello(AgentHost *h);
/* ... offering TP_CAP_SVG_ICONS and @caps. */
void agent_host_say_hello_caps(AgentHost *h, uint64_t caps);
/* Reads APP_LIST_BEGIN, the entries, APP_LIST_END (CatalogItem array). */
GPtrArray *agent_host_read_catalog(AgentHost *h, int ms);
const CatalogItem *agent_host_find(GPtrArray *catalog, const char *id);
