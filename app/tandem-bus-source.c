/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-bus-source.h"

#include <poll.h>

typedef struct {
  GSource source;
  sd_bus *bus;   /* a reference */
  gpointer fd_tag;
  GIOCondition watched; /* what fd_tag polls for now */
} TandemBusSource;

static GIOCondition poll_events_to_condition(int events) {
  GIOCondition condition = 0;

  if (events & POLLIN)
    condition |= G_IO_IN;
  if (events & POLLOUT)
    condition |= G_IO_OUT;
  return condition;
}

/* TRUE if sd-bus wants to be called now: a message is already queued, the
 * connection is closing, or a method call's timeout has passed. Otherwise
 * *timeout_ms is how long the loop may sleep (-1: until the socket is
 * ready). sd-bus and g_source_get_time() both count CLOCK_MONOTONIC µs. */
static gboolean bus_source_due(TandemBusSource *self, int *timeout_ms) {
  uint64_t until = UINT64_MAX;
  gint64 now;

  if (sd_bus_get_timeout(self->bus, &until) < 0)
    return TRUE; /* closed: dispatch notices and reports it */
  if (until == UINT64_MAX) {
    *timeout_ms = -1;
    return FALSE;
  }
  now = g_source_get_time(&self->source);
  if (until <= (uint64_t)now)
    return TRUE;
  *timeout_ms = (int)MIN((until - (uint64_t)now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean bus_source_prepare(GSource *source, int *timeout_ms) {
  TandemBusSource *self = (TandemBusSource *)source;
  int events = sd_bus_get_events(self->bus);

  *timeout_ms = -1;
  if (events < 0)
    return TRUE;
  /* POLLOUT only while sd-bus has unsent data, or we would spin. Changed
   * only when it changes: GLib wakes the whole loop up at every change. */
  GIOCondition wanted =
      poll_events_to_condition(events) | G_IO_HUP | G_IO_ERR;
  if (wanted != self->watched) {
    g_source_modify_unix_fd(source, self->fd_tag, wanted);
    self->watched = wanted;
  }
  return bus_source_due(self, timeout_ms);
}

static gboolean bus_source_check(GSource *source) {
  TandemBusSource *self = (TandemBusSource *)source;
  int unused_timeout;

  if (g_source_query_unix_fd(source, self->fd_tag) != 0)
    return TRUE;
  return bus_source_due(self, &unused_timeout);
}

static gboolean bus_source_dispatch(GSource *source, GSourceFunc on_lost,
                                    gpointer user_data) {
  TandemBusSource *self = (TandemBusSource *)source;
  int r;

  /* Drain: sd-bus may hold complete messages in its buffer that no poll()
   * would announce. 0 means there is nothing left to do for now. */
  while ((r = sd_bus_process(self->bus, NULL)) > 0)
    ;
  if (r == 0)
    return G_SOURCE_CONTINUE;

  g_debug("D-Bus connection lost: %s", g_strerror(-r));
  if (on_lost)
    on_lost(user_data);
  return G_SOURCE_REMOVE;
}

static void bus_source_finalize(GSource *source) {
  TandemBusSource *self = (TandemBusSource *)source;

  g_clear_pointer(&self->bus, sd_bus_unref);
}

static GSourceFuncs bus_source_funcs = {
    .prepare = bus_source_prepare,
    .check = bus_source_check,
    .dispatch = bus_source_dispatch,
    .finalize = bus_source_finalize,
};

GSource *tandem_bus_source_new(sd_bus *bus) {
  GSource *source;
  TandemBusSource *self;
  int fd;

  g_return_val_if_fail(bus != NULL, NULL);
  fd = sd_bus_get_fd(bus);
  g_return_val_if_fail(fd >= 0, NULL);

  source = g_source_new(&bus_source_funcs, sizeof(TandemBusSource));
  self = (TandemBusSource *)source;
  self->bus = sd_bus_ref(bus);
  self->watched = G_IO_IN | G_IO_HUP | G_IO_ERR;
  self->fd_tag = g_source_add_unix_fd(source, fd, self->watched);
  g_source_set_name(source, "sd-bus");
  return source;
}
