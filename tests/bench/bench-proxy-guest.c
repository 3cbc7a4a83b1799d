/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: the guests. The host is this process: a TandemGuestHub
 * with the guest's TandemGuestLink and a TandemProxyManager on it, exactly
 * as the shell wires them (app/tandem-application.c), the proxies on this
 * process's display (an Xvfb of its own). The guest is the real agent,
 * either on a second Xvfb connecting to the hub's loopback socket, or in
 * the default guest under TCG over virtio-serial.
 *
 * What the benchmark observes, all through public API: the link's
 * "window-message" (connected after the proxy manager's handler, so a
 * DAMAGE has been copied into the proxy's surface when it runs), the
 * proxies' "frame-painted", the manager's focus state, and the pixels of
 * tandem_proxy_window_get_surface(). The one thing the link does not
 * expose is the agent's clock, which the latency through the VM needs:
 * the benchmark sends heartbeats of its own through the link and reads
 * their answers with an emission hook on TandemChannel's "message". */
#include "bench-proxy.h"

#include <gdk/gdkx.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "bench-stamp.h"
#include "tandem-channel.h"
#include "test-wait.h"

#define PING_INTERVAL_MS 50
#define PING_MARK 0x40000000u /* our heartbeats; the link counts from 1 */

static void window_free(BpWindow *w) {
  if (w->proxy)
    g_object_remove_weak_pointer(G_OBJECT(w->proxy), (gpointer *)&w->proxy);
  g_free(w->res_name);
  g_free(w->title);
  g_free(w);
}

void bp_progress(const char *fmt, ...) {
  static gint64 t0;
  if (!t0)
    t0 = px_now_ns();
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "bench-proxy [%5.1f s] %s\n",
          (double)(px_now_ns() - t0) / 1e9, text);
}

void bp_config_clear(BpConfig *cfg, gboolean remove_tmp) {
  if (remove_tmp && cfg->px.tmp) {
    const char *rm[] = {"rm", "-rf", "--", cfg->px.tmp, NULL};
    g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                 NULL, NULL, NULL, NULL);
  }
  g_clear_pointer(&cfg->px.tmp, g_free);
  g_clear_pointer(&cfg->px.agent, g_free);
  g_clear_pointer(&cfg->px.anim, g_free);
  g_clear_pointer(&cfg->keys, g_free);
  g_clear_pointer(&cfg->xclock, g_free);
  g_clear_pointer(&cfg->memprobe, g_free);
  g_clear_pointer(&cfg->text, g_free);
}

/* --- Waiting ---------------------------------------------------------------- */

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean bp_wait(gboolean (*done)(gpointer data), gpointer data,
                 double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);
  gboolean ok;
  while (!(ok = done(data)) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return ok;
}

void bp_run_for(double seconds) {
  gboolean never = FALSE;
  tandem_test_wait(&never, seconds);
}

/* --- Frames ------------------------------------------------------------------ */

/* The stamp in the proxy's pixels, if there is one. */
static gboolean read_stamp(TandemProxyWindow *p, BenchStamp *s) {
  cairo_surface_t *surf = p ? tandem_proxy_window_get_surface(p) : NULL;
  if (!surf || cairo_image_surface_get_width(surf) <
                   BENCH_STAMP_X + BENCH_STAMP_SIZE ||
      cairo_image_surface_get_height(surf) < BENCH_STAMP_Y + BENCH_STAMP_SIZE)
    return FALSE;
  int stride = cairo_image_surface_get_stride(surf);
  const guint8 *at = cairo_image_surface_get_data(surf) +
                     (gsize)BENCH_STAMP_Y * (gsize)stride + BENCH_STAMP_X * 4;
  return bench_stamp_read(at, stride, 4, s) == 0;
}

static void record(GArray *frames, guint32 id, const BenchStamp *s,
                   gint64 now, guint64 bytes) {
  PxFrame f = {id, s->counter, s->mode, (gint64)s->draw_ns, now, bytes, 0};
  g_array_append_val(frames, f);
}

static void on_frame_painted(TandemProxyWindow *p, guint seq, gpointer data) {
  BpGuest *g = data;
  gint64 now = px_now_ns();
  guint32 id = tandem_proxy_window_get_guest_id(p);
  BpWindow *w = g_hash_table_lookup(g->windows, GUINT_TO_POINTER(id));
  if (!w)
    return;
  if (!w->first_paint_ns)
    w->first_paint_ns = now;
  w->frames_painted++;
  BenchStamp s;
  if (!read_stamp(p, &s)) {
    g->unstamped += w->paint_counter >= 0;
    return;
  }
  if ((gint64)s.counter > w->paint_counter) {
    w->paint_counter = s.counter;
    record(g->painted, id, &s, now, g->damage_bytes);
  }
}

static gboolean on_map_event(GtkWidget *widget, GdkEvent *ev, gpointer data) {
  BpWindow *w = data;
  w->viewable = TRUE;
  return FALSE;
}

static gboolean on_focus_in(GtkWidget *widget, GdkEvent *ev, gpointer data) {
  BpWindow *w = data;
  w->focus_in_ns = px_now_ns();
  return FALSE;
}

static void on_window_shown(TandemProxyManager *pm, TandemProxyWindow *p,
                            gpointer data) {
  BpGuest *g = data;
  guint32 id = tandem_proxy_window_get_guest_id(p);
  BpWindow *w = g_hash_table_lookup(g->windows, GUINT_TO_POINTER(id));
  if (!w || w->proxy)
    return;
  w->proxy = p;
  g_object_add_weak_pointer(G_OBJECT(p), (gpointer *)&w->proxy);
  g_signal_connect(p, "frame-painted", G_CALLBACK(on_frame_painted), g);
  g_signal_connect(p, "map-event", G_CALLBACK(on_map_event), w);
  g_signal_connect(p, "focus-in-event", G_CALLBACK(on_focus_in), w);
}

/* What a DAMAGE took on the channel: header, fixed part, table, data. */
static guint64 damage_size(const TpDamage *d) {
  guint64 bytes = TP_HEADER_SIZE + 8u + 12u * (guint64)d->n_rects;
  for (guint i = 0; i < d->n_rects; i++)
    bytes += d->rects[i].len;
  return bytes;
}

/* After the manager: the proxy has done its part when this runs. */
static void on_window_message(TandemGuestLink *link, const TpMessage *m,
                              gpointer data) {
  BpGuest *g = data;
  gint64 now = px_now_ns();
  BpWindow *w = g_hash_table_lookup(g->windows, GUINT_TO_POINTER(m->window));
  switch (m->type) {
  case TP_MSG_WINDOW_CREATE:
    w = g_new0(BpWindow, 1);
    w->id = m->window;
    w->create_ns = now;
    w->recv_counter = w->paint_counter = -1;
    g_hash_table_replace(g->windows, GUINT_TO_POINTER(m->window), w);
    break;
  case TP_MSG_WINDOW_CLASS:
    if (w) {
      g_free(w->res_name);
      w->res_name = g_strdup(m->u.wclass.res_name);
    }
    break;
  case TP_MSG_WINDOW_TITLE:
    if (w) {
      g_free(w->title);
      w->title = g_strdup(m->u.title.title);
    }
    break;
  case TP_MSG_WINDOW_MAP:
    if (w && !w->map_ns)
      w->map_ns = now;
    break;
  case TP_MSG_DAMAGE: {
    guint64 bytes = damage_size(&m->u.damage);
    g->damage_bytes += bytes;
    if (w) {
      w->damage_bytes += bytes;
      w->frames_sent += (m->u.damage.flags & TP_DAMAGE_FRAME_END) != 0;
      for (guint i = 0; i < m->u.damage.n_rects; i++)
        w->damage_px += (guint64)m->u.damage.rects[i].width *
                        m->u.damage.rects[i].height;
    }
    if (w && (m->u.damage.flags & TP_DAMAGE_FRAME_END)) {
      BenchStamp s;
      if (read_stamp(tandem_proxy_manager_find(g->pm, m->window), &s) &&
          (gint64)s.counter > w->recv_counter) {
        w->recv_counter = s.counter;
        record(g->received, m->window, &s, now, g->damage_bytes);
      }
    }
    break;
  }
  case TP_MSG_WINDOW_DESTROY:
    g_hash_table_remove(g->windows, GUINT_TO_POINTER(m->window));
    break;
  default:
    break;
  }
}

/* --- The agent's clock ------------------------------------------------------- */

static gboolean send_ping(gpointer data) {
  BpGuest *g = data;
  if (g->link && tandem_guest_link_get_state(g->link) ==
                     TANDEM_GUEST_LINK_READY) {
    TpMessage m = {.type = TP_MSG_HEARTBEAT};
    m.u.heartbeat = (TpHeartbeat){PING_MARK | (++g->ping_seq & 0xffffff), 0,
                                  (uint64_t)px_now_ns(), 0};
    tandem_guest_link_send(g->link, &m);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean on_channel_message(GSignalInvocationHint *hint, guint n,
                                   const GValue *params, gpointer data) {
  BpGuest *g = data;
  const TpMessage *m = g_value_get_pointer(&params[1]);
  gboolean ours = m->type == TP_MSG_HEARTBEAT && m->u.heartbeat.reply &&
                  (m->u.heartbeat.seq & PING_MARK);
  /* Every message from the guest on the channel, at its encoded size
   * (the benchmark's own heartbeats aside: no host sends them). */
  if (m->type == TP_MSG_DAMAGE) {
    g->channel_bytes += damage_size(&m->u.damage);
  } else if (!ours) {
    TpBuf b;
    tp_buf_init(&b);
    if (tp_encode(m, &b) == TP_OK)
      g->channel_bytes += b.len;
    tp_buf_clear(&b);
  }
  if (!ours)
    return TRUE;
  /* The agent read its clock between our sending and this arrival. */
  gint64 now = px_now_ns();
  gint64 sent = (gint64)m->u.heartbeat.echo_ns;
  gint64 rtt = now - sent;
  if (rtt >= 0 && rtt < g->offset_rtt_ns) {
    g->offset_rtt_ns = rtt;
    g->offset_ns = (gint64)m->u.heartbeat.sent_ns - (sent + now) / 2;
  }
  return TRUE;
}

void bp_guest_set_pinging(BpGuest *g, gboolean on) {
  if (on && !g->ping_id)
    g->ping_id = g_timeout_add(PING_INTERVAL_MS, send_ping, g);
  else if (!on && g->ping_id)
    g_source_remove(g->ping_id);
  if (!on)
    g->ping_id = 0;
}

void bp_guest_reset_clock(BpGuest *g) {
  g->offset_rtt_ns = G_MAXINT64;
}

/* --- Life ---------------------------------------------------------------------- */

/* The VM stopped (or is restarted by a restore): its link and proxies go;
 * the next run's link comes with "link-added". */
static void on_link_removed(TandemGuestHub *hub, const char *guest,
                            gpointer data) {
  BpGuest *g = data;
  if (!g->link)
    return;
  g_signal_handlers_disconnect_by_data(g->link, g);
  g_clear_object(&g->pm);
  g->link = NULL;
}

static void on_link_added(TandemGuestHub *hub, const char *guest,
                          TandemGuestLink *link, gpointer data) {
  BpGuest *g = data;
  if (g->pm)
    return;
  g->link = link;
  tandem_guest_link_set_host(link, 1920, 1080, 100, 64, NULL);
  g->pm = tandem_proxy_manager_new(link);
  g_signal_connect(g->pm, "window-shown", G_CALLBACK(on_window_shown), g);
  g_signal_connect_after(link, "window-message",
                         G_CALLBACK(on_window_message), g);
}

static void guest_init(BpGuest *g, const BpConfig *cfg, const char *name,
                       const char *transport) {
  g->name = name;
  g->transport = g_strdup(transport);
  g->dir = g_build_filename(cfg->px.tmp, name, NULL);
  g_mkdir_with_parents(g->dir, 0700);
  g->windows = g_hash_table_new_full(NULL, NULL, NULL,
                                     (GDestroyNotify)window_free);
  g->received = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  g->painted = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  g->offset_rtt_ns = G_MAXINT64;
  g_autofree char *vms = g_build_filename(g->dir, "vms", NULL);
  g_mkdir_with_parents(vms, 0700);
  g->vms = tandem_vm_manager_new(vms);
  g->hub = tandem_guest_hub_new(g->vms);
  g_signal_connect(g->hub, "link-added", G_CALLBACK(on_link_added), g);
  g_signal_connect(g->hub, "link-removed", G_CALLBACK(on_link_removed), g);
  /* The class (and its signals) exists once an instance was made: make
   * sure of it before the first connection. */
  g_type_class_unref(g_type_class_ref(TANDEM_TYPE_CHANNEL));
  g->hook_id = g_signal_add_emission_hook(
      g_signal_lookup("message", TANDEM_TYPE_CHANNEL), 0, on_channel_message,
      g, NULL);
  g->ping_id = g_timeout_add(PING_INTERVAL_MS, send_ping, g);
}

static gboolean has_catalog(gpointer data) {
  BpGuest *g = data;
  return g->link &&
         tandem_guest_link_get_state(g->link) == TANDEM_GUEST_LINK_READY &&
         tandem_guest_link_has_catalog(g->link);
}

static gboolean write_entry(const char *apps, const char *id,
                            const char *text, GError **error) {
  g_autofree char *file = g_strdup_printf("%s.desktop", id);
  g_autofree char *path = g_build_filename(apps, file, NULL);
  return g_file_set_contents(path, text, -1, error);
}

/* The transport as the session uses it: "+shm" when pixels come through
 * shared memory. */
static void label_pixels(BpGuest *g) {
  if (!tandem_guest_link_get_pixel_region(g->link))
    return;
  char *old = g->transport;
  g->transport = g_strconcat(old, "+shm", NULL);
  g_free(old);
}

gboolean bp_guest_start_loopback(BpGuest *g, const BpConfig *cfg,
                                 GError **error) {
  guest_init(g, cfg, "loopback", "UNIX socket");
  g_autofree char *pixels = g_build_filename(g->dir, "agent.sock.pixels",
                                             NULL);
  g_autofree char *data = g_build_filename(g->dir, "data", NULL);
  g_autofree char *apps = g_build_filename(data, "applications", NULL);
  g_autofree char *sock = g_build_filename(g->dir, "agent.sock", NULL);
  g_autofree char *agent_log = g_build_filename(g->dir, "agent.log", NULL);
  g_mkdir_with_parents(apps, 0700);
  /* The catalog: the benchmark's apps only. */
  for (int i = 0; i < 2; i++) {
    const char *mode = i ? "small" : "full";
    g_autofree char *id = g_strdup_printf("tandem-bench-anim-%s", mode);
    g_autofree char *log = g_strdup_printf("%s/anim-%s.log", g->dir, mode);
    g_autofree char *text = px_anim_desktop(cfg->px.anim, mode, cfg->px.fps,
                                            log);
    if (!write_entry(apps, id, text, error))
      return FALSE;
  }
  if (cfg->xclock) {
    g_autofree char *text = g_strdup_printf(
        "[Desktop Entry]\nType=Application\nName=Clock\nExec=%s\n",
        cfg->xclock);
    if (!write_entry(apps, "xclock", text, error))
      return FALSE;
  }
  /* The real applications' cases, those installed here. */
  for (int i = 0; cfg->text && i < BP_N_APPS; i++) {
    g_autofree char *text = bp_app_desktop(i, cfg, FALSE);
    if (text && !write_entry(apps, bp_app_id(i), text, error))
      return FALSE;
  }
  g->xvfb = px_xvfb_start(g->dir, &g->display, error);
  if (!g->xvfb)
    return FALSE;
  if (!tandem_guest_hub_add_loopback(g->hub, g->name, sock, error))
    return FALSE;
  g_autofree char *addr = g_strconcat("unix:", sock, NULL);
  const char *env[] = {"XDG_DATA_DIRS", data, "XDG_DATA_HOME", data,
                       "G_MESSAGES_DEBUG", "", NULL};
  g->agent = px_spawn(g->display, agent_log, env, error, cfg->px.agent,
                      "--connect", addr, "--pixel-memory",
                      cfg->channel_pixels ? "none" : pixels, NULL);
  if (!g->agent)
    return FALSE;
  if (!bp_wait(has_catalog, g, 15)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "the loopback agent did not connect with its catalog within "
                "15 s (see %s)", agent_log);
    return FALSE;
  }
  label_pixels(g);
  return TRUE;
}

gboolean bp_guest_start_vm(BpGuest *g, const BpConfig *cfg,
                           gboolean *skipped, char **why, GError **error) {
  g_autofree char *guest = px_guest_dir();
  g_autofree char *kernel = g_build_filename(guest, "vmlinuz", NULL);
  if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
    *why = g_strdup_printf("not measured: no default guest in %s "
                           "(tools/dev.sh test builds it)", guest);
    *skipped = TRUE;
    return FALSE;
  }
  guest_init(g, cfg, "vm", "TCG virtio");
  g->is_vm = TRUE;
  g_autofree char *full = px_anim_desktop("tandem-bench-anim", "full",
                                          cfg->px.fps, NULL);
  g_autofree char *small = px_anim_desktop("tandem-bench-anim", "small",
                                           cfg->px.fps, NULL);
  static const char keys[] =
      "[Desktop Entry]\nType=Application\nName=Bench keys\n"
      "Exec=tandem-bench-keys --windows 3\n";
  /* The key tests': two windows and one that closes on its 5th key, each
   * counting its keys in its title. */
  static const char victim[] =
      "[Desktop Entry]\nType=Application\nName=Keys and a closing window\n"
      "Exec=tandem-bench-keys --windows 2 --victim 5 --titles\n";
  /* Both lists end with a zeroed member (at the first NULL). */
  g_autoptr(GArray) files = g_array_new(TRUE, TRUE, sizeof(PxOverlayFile));
  const PxOverlayFile always[] = {
      {cfg->px.anim, "usr/bin/tandem-bench-anim", FALSE},
      {cfg->keys, "usr/bin/tandem-bench-keys", FALSE},
      {cfg->px.agent, "usr/bin/tandem-agent", FALSE},
      {cfg->memprobe, "usr/bin/tandem-memprobe", FALSE},
      {cfg->vm_apps ? cfg->text : NULL, BP_APP_TEXT_IN_VM, TRUE}};
  for (guint i = 0; i < G_N_ELEMENTS(always); i++)
    if (always[i].src)
      g_array_append_val(files, always[i]);
  g_autoptr(GArray) apps = g_array_new(TRUE, TRUE, sizeof(PxOverlayApp));
  const PxOverlayApp entries[] = {{"tandem-bench-anim-full", full},
                                  {"tandem-bench-anim-small", small},
                                  {"tandem-bench-keys", keys},
                                  {"tandem-keys-victim", victim}};
  g_array_append_vals(apps, entries, G_N_ELEMENTS(entries));
  /* The real applications' cases: the guest's own programs. */
  g_autoptr(GPtrArray) app_texts = g_ptr_array_new_with_free_func(g_free);
  for (int i = 0; cfg->vm_apps && cfg->text && i < BP_N_APPS; i++) {
    PxOverlayApp a = {bp_app_id(i), bp_app_desktop(i, cfg, TRUE)};
    g_ptr_array_add(app_texts, (char *)a.text);
    if (a.text)
      g_array_append_val(apps, a);
  }
  g_autofree char *initrd = px_guest_initrd(
      guest, g->dir, (const PxOverlayFile *)(void *)files->data,
      (const PxOverlayApp *)(void *)apps->data, error);
  if (!initrd)
    return FALSE;
  g_autofree char *home = px_guest_home(guest, g->dir);
  g_autofree char *plain = px_guest_config(guest, initrd, home, cfg->cmdline);
  g_autofree char *conf = NULL;
  if (cfg->channel_pixels) { /* no ivshmem device */
    g_auto(GStrv) parts = g_strsplit(plain, "[VM]\n", 2);
    conf = g_strjoinv("[VM]\nPixelMemory=0\n", parts);
  } else {
    conf = g_strdup(plain);
  }
  g_autofree char *conf_path = g_build_filename(g->dir, "vms", "vm.conf",
                                                NULL);
  if (!g_file_set_contents(conf_path, conf, -1, error))
    return FALSE;
  tandem_vm_manager_reload(g->vms);
  g->vm = tandem_vm_manager_lookup(g->vms, "vm");
  if (!g->vm) {
    const char *const *problems = tandem_vm_manager_get_problems(g->vms);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the VM configuration was not taken: %s",
                problems && problems[0] ? problems[0] : "?");
    return FALSE;
  }
  /* The hub connects its link as soon as the VM runs; the agent comes
   * with the session. */
  bp_progress("vm: overlay ready, starting QEMU");
  gint64 t0 = px_now_ns();
  if (!px_guest_boot(g->vm, &g->boot_s, error))
    return FALSE;
  bp_progress("vm: session ready");
  if (!bp_wait(has_catalog, g, 60)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "the guest's agent did not come with its catalog within 60 "
                "s of the session (link %s)",
                g->link ? (tandem_guest_link_get_state(g->link) ==
                                   TANDEM_GUEST_LINK_HANDSHAKE
                               ? "in its handshake"
                               : "not ready")
                        : "never added");
    return FALSE;
  }
  g->catalog_s = (double)(px_now_ns() - t0) / 1e9;
  label_pixels(g);
  if (!tandem_guest_link_find_app(g->link, "tandem-bench-keys")) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the guest's catalog lacks the benchmark's apps: the "
                "appended initramfs was not unpacked");
    return FALSE;
  }
  return TRUE;
}

void bp_guest_stop(BpGuest *g) {
  if (g->hook_id)
    g_signal_remove_emission_hook(
        g_signal_lookup("message", TANDEM_TYPE_CHANNEL), g->hook_id);
  if (g->ping_id)
    g_source_remove(g->ping_id);
  g->hook_id = g->ping_id = 0;
  if (g->link)
    g_signal_handlers_disconnect_by_data(g->link, g);
  g_clear_object(&g->pm);
  if (g->vm)
    px_guest_stop(g->vm);
  g->vm = NULL;
  if (g->hub)
    g_signal_handlers_disconnect_by_data(g->hub, g);
  g->link = NULL;
  g_clear_object(&g->hub);
  g_clear_object(&g->vms);
  px_stop(g->agent, 5);
  px_stop(g->xvfb, 5);
  g->agent = g->xvfb = NULL;
  g_clear_pointer(&g->windows, g_hash_table_unref);
  g_clear_pointer(&g->received, g_array_unref);
  g_clear_pointer(&g->painted, g_array_unref);
  g_clear_pointer(&g->display, g_free);
  g_clear_pointer(&g->transport, g_free);
  g_clear_pointer(&g->dir, g_free);
}

/* --- Windows ---------------------------------------------------------------- */

BpWindow *bp_guest_find(BpGuest *g, const char *res_name, gint64 after_ns,
                        gboolean painted) {
  BpWindow *best = NULL;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, g->windows);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    BpWindow *w = v;
    if (!w->res_name || !g_str_equal(w->res_name, res_name) ||
        w->create_ns < after_ns || !w->map_ns ||
        (painted && !w->first_paint_ns))
      continue;
    if (!best || w->create_ns > best->create_ns)
      best = w;
  }
  return best;
}

BpWindow *bp_guest_find_title(BpGuest *g, const char *title) {
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, g->windows);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    BpWindow *w = v;
    if (w->title && g_str_equal(w->title, title) && w->map_ns)
      return w;
  }
  return NULL;
}

guint32 bp_window_xid(BpWindow *w) {
  return w && w->proxy && w->viewable
             ? (guint32)gdk_x11_window_get_xid(
                   gtk_widget_get_window(GTK_WIDGET(w->proxy)))
             : 0;
}

typedef struct {
  BpGuest *g;
  guint32 id;
} Gone;

static gboolean window_gone(gpointer data) {
  Gone *x = data;
  return !g_hash_table_contains(x->g->windows, GUINT_TO_POINTER(x->id));
}

gboolean bp_guest_close(BpGuest *g, guint32 id, double seconds) {
  TpMessage m = {.type = TP_MSG_WINDOW_CLOSE, .window = id};
  tandem_guest_link_send(g->link, &m);
  Gone x = {g, id};
  return bp_wait(window_gone, &x, seconds);
}

/* --- Launching ------------------------------------------------------------------ */

struct BpLaunch {
  gboolean done, abandoned;
  gint64 done_ns;
  guint32 pid;
  GError *error;
};

static void launched(GObject *source, GAsyncResult *res, gpointer data) {
  BpLaunch *l = data;
  l->done_ns = px_now_ns();
  l->pid = tandem_guest_hub_launch_finish(TANDEM_GUEST_HUB(source), res,
                                          &l->error);
  if (l->abandoned) {
    g_clear_error(&l->error);
    g_free(l);
    return;
  }
  l->done = TRUE;
}

BpLaunch *bp_launch(BpGuest *g, const char *app_id) {
  BpLaunch *l = g_new0(BpLaunch, 1);
  tandem_guest_hub_launch_async(g->hub, g->name, app_id, NULL, NULL, NULL,
                                launched, l);
  return l;
}

gboolean bp_launch_finish(BpLaunch *l, double seconds, gint64 *done_ns,
                          guint32 *pid, GError **error) {
  if (!tandem_test_wait(&l->done, seconds)) {
    l->abandoned = TRUE;
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "no answer to the launch within %.0f s", seconds);
    return FALSE;
  }
  gboolean ok = l->error == NULL;
  if (l->error)
    g_propagate_error(error, l->error);
  if (done_ns)
    *done_ns = l->done_ns;
  if (pid)
    *pid = l->pid;
  g_free(l);
  return ok;
}

/* --- The host --------------------------------------------------------------- */

char *bp_locate(const char *env, const char *fallback) {
  const char *v = g_getenv(env);
  return g_strdup(v && *v ? v : fallback);
}

/* GTK on an Xvfb of our own: the host's display. */
static GPid host_xvfb_pid;

GPid bp_host_display_pid(void) { return host_xvfb_pid; }

GSubprocess *bp_host_display_start(const char *tmp, GError **error) {
  g_autofree char *dir = g_build_filename(tmp, "host", NULL);
  g_mkdir_with_parents(dir, 0700);
  g_autofree char *display = NULL;
  GSubprocess *xvfb = px_xvfb_start(dir, &display, error);
  if (!xvfb)
    return NULL;
  g_setenv("DISPLAY", display, TRUE);
  host_xvfb_pid = px_pid(xvfb);
  g_unsetenv("WAYLAND_DISPLAY");
  g_setenv("NO_AT_BRIDGE", "1", TRUE);
  gdk_set_allowed_backends("x11");
  if (!gtk_init_check(NULL, NULL)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "GTK cannot open the host display %s", display);
    px_stop(xvfb, 5);
    return NULL;
  }
  return xvfb;
}

/* GDK ends the process when its display goes away under it: the Xvfb is
 * waited for without iterating the main loop. */
void bp_host_display_stop(GSubprocess *xvfb) {
  g_subprocess_send_signal(xvfb, SIGTERM);
  g_subprocess_wait(xvfb, NULL, NULL);
  g_object_unref(xvfb);
}
