/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-agent: runs in the guest's session and speaks for it to Tandem. */
#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>

#include "tandem-agent.h"

static gboolean lost;

static void on_lost(GMainLoop *loop) {
  lost = TRUE;
  g_main_loop_quit(loop);
}

static gboolean on_signal(gpointer loop) {
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
  g_autofree char *address = NULL;
  g_autofree char *display = NULL;
  g_autofree char *pixel_memory = NULL;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
      {"connect", 'c', 0, G_OPTION_ARG_STRING, &address,
       "Channel to the host: unix:PATH (loopback mode) or virtio:NAME "
       "(default: virtio:org.tandem.agent.0)",
       "ADDRESS"},
      {"display", 'd', 0, G_OPTION_ARG_STRING, &display,
       "X display whose windows to offer (default: $DISPLAY)", "DISPLAY"},
      {"pixel-memory", 0, 0, G_OPTION_ARG_FILENAME, &pixel_memory,
       "Memory shared with the host for window pixels: a file (loopback "
       "mode; the host makes SOCKET.pixels), or \"none\" (default: the "
       "VM's ivshmem device when there is one)",
       "FILE"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version,
       "Print the version and exit", NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_autoptr(GError) error = NULL;

  setlocale(LC_ALL, "");
  /* A host that hangs up mid-write is an error to handle, not a death. */
  signal(SIGPIPE, SIG_IGN);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_summary(
      ctx, "Offers this system's applications and windows to Tandem on the "
           "host. Runs in the guest's desktop session.");
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    g_printerr("tandem-agent: %s\nRun “tandem-agent --help” to see the "
               "options.\n", error->message);
    return 2;
  }
  if (version) {
    g_print("tandem-agent %s\n", PACKAGE_VERSION);
    return 0;
  }
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  g_autoptr(TandemAgent) agent = tandem_agent_new(
      address ? address : "virtio:org.tandem.agent.0", NULL);
  g_unix_signal_add(SIGTERM, on_signal, loop);
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_signal_connect_swapped(agent, "display-lost", G_CALLBACK(on_lost), loop);
  if (display)
    tandem_agent_set_display(agent, display);
  if (pixel_memory)
    tandem_agent_set_pixel_memory(agent, pixel_memory);
  if (!tandem_agent_start(agent, &error)) {
    g_printerr("tandem-agent: %s\n", error->message);
    return 1;
  }
  g_main_loop_run(loop);
  return lost ? 1 : 0;
}
