/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-guest-panel.h"

#include <string.h>

#include "tandem-console-view.h"
#include "tandem-i18n.h"
#include "tandem-qemu-argv.h"
#include "tandem-snapshot-panel.h"

#define ICON_PX 48

struct _TandemGuestPanel {
  GtkBox parent_instance;
  TandemGuestHub *hub;
  TandemVmManager *manager;
  char *guest;

  GtkComboBoxText *chooser;
  GtkStack *stack;
  GtkSearchEntry *search;
  GtkFlowBox *grid;
  GtkLabel *status;
  GtkLabel *empty;
  TandemConsoleView *console;
  GtkLabel *no_console;
  TandemSnapshotPanel *snapshots; /* NULL until a snapshot manager is set */
  gboolean refilling;
};

G_DEFINE_TYPE(TandemGuestPanel, tandem_guest_panel, GTK_TYPE_BOX)

static TandemGuestLink *link_of(TandemGuestPanel *self) {
  return self->guest ? tandem_guest_hub_get_link(self->hub, self->guest)
                     : NULL;
}

/* --- The application grid ------------------------------------------------ */

static GtkWidget *icon_for(const TandemGuestApp *a) {
  GdkPixbuf *pb = NULL;
  if (a->icon_png) {
    g_autoptr(GdkPixbufLoader) l = gdk_pixbuf_loader_new_with_type("png",
                                                                  NULL);
    gsize n;
    const guchar *d = g_bytes_get_data(a->icon_png, &n);
    gdk_pixbuf_loader_set_size(l, ICON_PX, ICON_PX);
    if (l && gdk_pixbuf_loader_write(l, d, n, NULL) &&
        gdk_pixbuf_loader_close(l, NULL))
      pb = g_object_ref(gdk_pixbuf_loader_get_pixbuf(l));
    else if (l)
      gdk_pixbuf_loader_close(l, NULL);
  }
  if (!pb)
    return gtk_image_new_from_icon_name("application-x-executable",
                                        GTK_ICON_SIZE_DIALOG);
  GtkWidget *img = gtk_image_new_from_pixbuf(pb);
  g_object_unref(pb);
  return img;
}

static void set_status(TandemGuestPanel *self, const char *text) {
  gtk_label_set_text(self->status, text ? text : "");
  gtk_widget_set_visible(GTK_WIDGET(self->status), text && *text);
}

static void launched(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(TandemGuestPanel) self = data;
  g_autoptr(GError) error = NULL;
  tandem_guest_hub_launch_finish(TANDEM_GUEST_HUB(src), res, &error);
  if (!error) {
    set_status(self, NULL);
    return;
  }
  set_status(self, error->message);
  GApplication *app = g_application_get_default();
  if (app) { /* also where the user looks when the window is hidden */
    g_autoptr(GNotification) n = g_notification_new(_("Could not start "
                                                       "the application"));
    g_notification_set_body(n, error->message);
    g_application_send_notification(app, "launch-failed", n);
  }
}

static void launch(TandemGuestPanel *self, const char *app_id) {
  if (!self->guest)
    return;
  tandem_guest_hub_launch_async(self->hub, self->guest, app_id, NULL, NULL,
                                NULL, launched, g_object_ref(self));
}

static void on_app_clicked(GtkButton *b, gpointer data) {
  launch(TANDEM_GUEST_PANEL(data),
         g_object_get_data(G_OBJECT(b), "tandem-app-id"));
}

static gboolean filter(GtkFlowBoxChild *child, gpointer data) {
  TandemGuestPanel *self = data;
  const char *q = gtk_entry_get_text(GTK_ENTRY(self->search));
  if (!q || !*q)
    return TRUE;
  const char *hay = g_object_get_data(G_OBJECT(child), "tandem-search");
  g_autofree char *needle = g_utf8_casefold(q, -1);
  return hay && strstr(hay, needle);
}

static void on_search(GtkSearchEntry *e, gpointer data) {
  gtk_flow_box_invalidate_filter(TANDEM_GUEST_PANEL(data)->grid);
}

static void refill(TandemGuestPanel *self) {
  GList *kids = gtk_container_get_children(GTK_CONTAINER(self->grid));
  for (GList *k = kids; k; k = k->next)
    gtk_widget_destroy(k->data);
  g_list_free(kids);
  TandemGuestLink *link = link_of(self);
  gboolean have = link && tandem_guest_link_has_catalog(link);
  if (!have) {
    TandemVm *vm = self->guest ? tandem_vm_manager_lookup(self->manager,
                                                          self->guest)
                               : NULL;
    gtk_label_set_text(
        self->empty,
        !self->guest ? _("No guest yet.")
        : vm && tandem_vm_get_state(vm) != TANDEM_VM_RUNNING
            ? _("Start the VM to see its applications.")
            : _("Waiting for the guest's agent…"));
  }
  gtk_widget_set_visible(GTK_WIDGET(self->empty), !have);
  if (!have)
    return;
  GPtrArray *apps = tandem_guest_link_get_apps(link);
  for (guint i = 0; i < apps->len; i++) {
    TandemGuestApp *a = apps->pdata[i];
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    GtkWidget *label = gtk_label_new(a->name);
    gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
    gtk_label_set_max_width_chars(GTK_LABEL(label), 14);
    gtk_box_pack_start(GTK_BOX(box), icon_for(a), FALSE, FALSE, 0);
    gtk_box_pack_start(GTK_BOX(box), label, FALSE, FALSE, 0);
    GtkWidget *button = gtk_button_new();
    gtk_button_set_relief(GTK_BUTTON(button), GTK_RELIEF_NONE);
    gtk_container_add(GTK_CONTAINER(button), box);
    if (a->comment && *a->comment)
      gtk_widget_set_tooltip_text(button, a->comment);
    g_object_set_data_full(G_OBJECT(button), "tandem-app-id",
                           g_strdup(a->id), g_free);
    g_signal_connect(button, "clicked", G_CALLBACK(on_app_clicked), self);
    GtkWidget *child = gtk_flow_box_child_new();
    gtk_container_add(GTK_CONTAINER(child), button);
    g_autofree char *keys = a->keywords ? g_strjoinv(" ", a->keywords)
                                        : g_strdup("");
    g_autofree char *text = g_strjoin(" ", a->name, a->id,
                                      a->generic_name ? a->generic_name : "",
                                      keys, NULL);
    g_object_set_data_full(G_OBJECT(child), "tandem-search",
                           g_utf8_casefold(text, -1), g_free);
    gtk_widget_show_all(child);
    gtk_flow_box_insert(self->grid, child, -1);
  }
}

static void on_progress(TandemGuestHub *hub, const char *guest,
                        const char *app, guint stage, gpointer data) {
  TandemGuestPanel *self = data;
  if (g_strcmp0(guest, self->guest))
    return;
  g_autofree char *text = NULL;
  switch ((TandemLaunchStage)stage) {
  case TANDEM_LAUNCH_STARTING_VM:
    text = g_strdup_printf(_("Starting VM “%s”…"), guest);
    break;
  case TANDEM_LAUNCH_WAITING_FOR_AGENT:
    text = g_strdup(_("Waiting for the guest's agent…"));
    break;
  case TANDEM_LAUNCH_STARTING_APP:
    text = g_strdup_printf(_("Starting “%s”…"), app);
    break;
  case TANDEM_LAUNCH_STARTED:
    break;
  }
  set_status(self, text);
}

/* --- The console ---------------------------------------------------------- */

static void update_console(TandemGuestPanel *self) {
  TandemVm *vm = self->guest ? tandem_vm_manager_lookup(self->manager,
                                                        self->guest)
                             : NULL;
  gboolean running = vm && tandem_vm_get_state(vm) == TANDEM_VM_RUNNING;
  if (running) {
    g_autofree char *sock = g_build_filename(tandem_vm_get_runtime_dir(vm),
                                             TANDEM_RUNTIME_SPICE, NULL);
    if (g_strcmp0(tandem_console_view_get_socket_path(self->console), sock) ||
        tandem_console_view_get_state(self->console) ==
            TANDEM_CONSOLE_DISCONNECTED)
      tandem_console_view_connect(self->console, sock);
  }
  gtk_label_set_text(self->no_console,
                     vm ? _("Start the VM to see its screen.")
                        : _("This guest runs without a VM: it has no "
                            "screen of its own."));
  gtk_widget_set_visible(GTK_WIDGET(self->console), running);
  gtk_widget_set_visible(GTK_WIDGET(self->no_console), !running);
}

/* --- Choosing the guest --------------------------------------------------- */

static void fill_chooser(TandemGuestPanel *self) {
  self->refilling = TRUE;
  gtk_combo_box_text_remove_all(self->chooser);
  g_auto(GStrv) names = tandem_guest_hub_list_guests(self->hub);
  for (char **n = names; *n; n++)
    gtk_combo_box_text_append(self->chooser, *n, *n);
  if (!self->guest && names[0])
    self->guest = g_strdup(names[0]);
  if (self->guest)
    gtk_combo_box_set_active_id(GTK_COMBO_BOX(self->chooser), self->guest);
  self->refilling = FALSE;
}

void tandem_guest_panel_select(TandemGuestPanel *self, const char *guest) {
  if (g_strcmp0(self->guest, guest)) {
    g_free(self->guest);
    self->guest = g_strdup(guest);
  }
  fill_chooser(self);
  refill(self);
  update_console(self);
  if (self->snapshots)
    tandem_snapshot_panel_set_vm(self->snapshots, self->guest);
}

static void on_chosen(GtkComboBox *c, gpointer data) {
  TandemGuestPanel *self = data;
  const char *id = gtk_combo_box_get_active_id(c);
  if (!self->refilling && id && g_strcmp0(id, self->guest))
    tandem_guest_panel_select(self, id);
}

static void on_hub_guest(TandemGuestHub *hub, const char *guest,
                         gpointer data) {
  TandemGuestPanel *self = data;
  if (!self->guest || !g_strcmp0(guest, self->guest))
    tandem_guest_panel_select(self, self->guest ? self->guest : guest);
}

static void on_vm_state(TandemVmManager *m, TandemVm *vm, int old, int now,
                        gpointer data) {
  TandemGuestPanel *self = data;
  fill_chooser(self);
  if (!g_strcmp0(tandem_vm_get_name(vm), self->guest)) {
    refill(self);
    update_console(self);
  }
}

/* --- Snapshots ------------------------------------------------------------ */

void tandem_guest_panel_set_snapshot_manager(TandemGuestPanel *self,
                                             TandemSnapshotManager *snapshots) {
  g_return_if_fail(TANDEM_IS_GUEST_PANEL(self));
  g_return_if_fail(TANDEM_IS_SNAPSHOT_MANAGER(snapshots));
  if (self->snapshots)
    return;
  self->snapshots = TANDEM_SNAPSHOT_PANEL(
      tandem_snapshot_panel_new(snapshots, self->manager));
  gtk_stack_add_titled(self->stack, GTK_WIDGET(self->snapshots), "snapshots",
                       _("Snapshots"));
  tandem_snapshot_panel_set_vm(self->snapshots, self->guest);
}

TandemSnapshotPanel *tandem_guest_panel_get_snapshot_panel(
    TandemGuestPanel *self) {
  return self->snapshots;
}

/* --- For tests --------------------------------------------------------------- */

GStrv tandem_guest_panel_get_visible_apps(TandemGuestPanel *self) {
  GStrvBuilder *b = g_strv_builder_new();
  GList *kids = gtk_container_get_children(GTK_CONTAINER(self->grid));
  for (GList *k = kids; k; k = k->next)
    if (filter(k->data, self)) {
      GtkWidget *button = gtk_bin_get_child(GTK_BIN(k->data));
      g_strv_builder_add(b, g_object_get_data(G_OBJECT(button),
                                              "tandem-app-id"));
    }
  g_list_free(kids);
  GStrv out = g_strv_builder_end(b);
  g_strv_builder_unref(b);
  return out;
}

gboolean tandem_guest_panel_click_app(TandemGuestPanel *self,
                                      const char *app_id) {
  GList *kids = gtk_container_get_children(GTK_CONTAINER(self->grid));
  gboolean found = FALSE;
  for (GList *k = kids; k && !found; k = k->next) {
    GtkWidget *button = gtk_bin_get_child(GTK_BIN(k->data));
    if (!g_strcmp0(g_object_get_data(G_OBJECT(button), "tandem-app-id"),
                   app_id)) {
      gtk_button_clicked(GTK_BUTTON(button));
      found = TRUE;
    }
  }
  g_list_free(kids);
  return found;
}

const char *tandem_guest_panel_get_selected(TandemGuestPanel *self) {
  return self->guest;
}

const char *tandem_guest_panel_get_status(TandemGuestPanel *self) {
  return gtk_label_get_text(self->status);
}

void tandem_guest_panel_set_search(TandemGuestPanel *self, const char *text) {
  gtk_entry_set_text(GTK_ENTRY(self->search), text);
  gtk_flow_box_invalidate_filter(self->grid);
}

/* --- Life ------------------------------------------------------------------ */

GtkWidget *tandem_guest_panel_new(TandemGuestHub *hub,
                                  TandemVmManager *manager) {
  TandemGuestPanel *self = g_object_new(TANDEM_TYPE_GUEST_PANEL,
                                        "orientation",
                                        GTK_ORIENTATION_VERTICAL, "spacing",
                                        6, NULL);
  self->hub = g_object_ref(hub);
  self->manager = g_object_ref(manager);
  GtkWidget *bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  self->chooser = GTK_COMBO_BOX_TEXT(gtk_combo_box_text_new());
  g_signal_connect(self->chooser, "changed", G_CALLBACK(on_chosen), self);
  GtkWidget *switcher = gtk_stack_switcher_new();
  self->stack = GTK_STACK(gtk_stack_new());
  gtk_stack_switcher_set_stack(GTK_STACK_SWITCHER(switcher), self->stack);
  gtk_box_pack_start(GTK_BOX(bar), GTK_WIDGET(self->chooser), FALSE, FALSE, 0);
  gtk_box_set_center_widget(GTK_BOX(bar), switcher);
  gtk_container_set_border_width(GTK_CONTAINER(bar), 6);

  GtkWidget *apps = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
  self->search = GTK_SEARCH_ENTRY(gtk_search_entry_new());
  gtk_entry_set_placeholder_text(GTK_ENTRY(self->search),
                                 _("Search applications"));
  g_signal_connect(self->search, "search-changed", G_CALLBACK(on_search),
                   self);
  self->status = GTK_LABEL(gtk_label_new(NULL));
  self->empty = GTK_LABEL(gtk_label_new(NULL));
  gtk_style_context_add_class(
      gtk_widget_get_style_context(GTK_WIDGET(self->empty)), "dim-label");
  self->grid = GTK_FLOW_BOX(gtk_flow_box_new());
  gtk_flow_box_set_selection_mode(self->grid, GTK_SELECTION_NONE);
  gtk_flow_box_set_homogeneous(self->grid, TRUE);
  gtk_flow_box_set_filter_func(self->grid, filter, self, NULL);
  GtkWidget *scroll = gtk_scrolled_window_new(NULL, NULL);
  gtk_container_add(GTK_CONTAINER(scroll), GTK_WIDGET(self->grid));
  gtk_widget_set_vexpand(scroll, TRUE);
  gtk_box_pack_start(GTK_BOX(apps), GTK_WIDGET(self->search), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(apps), GTK_WIDGET(self->status), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(apps), GTK_WIDGET(self->empty), FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(apps), scroll, TRUE, TRUE, 0);
  gtk_container_set_border_width(GTK_CONTAINER(apps), 6);

  GtkWidget *screen = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
  self->console = tandem_console_view_new();
  self->no_console = GTK_LABEL(gtk_label_new(NULL));
  gtk_widget_set_vexpand(GTK_WIDGET(self->console), TRUE);
  gtk_widget_set_vexpand(GTK_WIDGET(self->no_console), TRUE);
  gtk_box_pack_start(GTK_BOX(screen), GTK_WIDGET(self->console), TRUE, TRUE,
                     0);
  gtk_box_pack_start(GTK_BOX(screen), GTK_WIDGET(self->no_console), TRUE,
                     TRUE, 0);
  gtk_stack_add_titled(self->stack, apps, "apps", _("Applications"));
  gtk_stack_add_titled(self->stack, screen, "console", _("Screen"));

  gtk_box_pack_start(GTK_BOX(self), bar, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), GTK_WIDGET(self->stack), TRUE, TRUE, 0);
  gtk_widget_show_all(GTK_WIDGET(self));
  g_signal_connect(hub, "apps-changed", G_CALLBACK(on_hub_guest), self);
  g_signal_connect(hub, "link-removed", G_CALLBACK(on_hub_guest), self);
  g_signal_connect(hub, "launch-progress", G_CALLBACK(on_progress), self);
  g_signal_connect(manager, "vm-state-changed", G_CALLBACK(on_vm_state),
                   self);
  tandem_guest_panel_select(self, NULL);
  return GTK_WIDGET(self);
}

static void tandem_guest_panel_dispose(GObject *object) {
  TandemGuestPanel *self = TANDEM_GUEST_PANEL(object);
  if (self->hub) {
    g_signal_handlers_disconnect_by_data(self->hub, self);
    g_clear_object(&self->hub);
  }
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
  G_OBJECT_CLASS(tandem_guest_panel_parent_class)->dispose(object);
}

static void tandem_guest_panel_finalize(GObject *object) {
  g_free(TANDEM_GUEST_PANEL(object)->guest);
  G_OBJECT_CLASS(tandem_guest_panel_parent_class)->finalize(object);
}

static void tandem_guest_panel_class_init(TandemGuestPanelClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = tandem_guest_panel_dispose;
  G_OBJECT_CLASS(klass)->finalize = tandem_guest_panel_finalize;
}

static void tandem_guest_panel_init(TandemGuestPanel *self) {}
