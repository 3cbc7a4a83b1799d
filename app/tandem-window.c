/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-window.h"

#include "tandem-guest-panel.h"
#include "tandem-i18n.h"
#include "tandem-storage-panel.h"

/* The widgets of one VM's row. */
typedef struct {
  TandemVm *vm; /* owned by the manager */
  GtkWidget *detail, *spinner, *state, *button;
} VmRow;

struct _TandemWindow {
  GtkApplicationWindow parent_instance;

  TandemVmManager *manager;
  GPtrArray *rows; /* VmRow */

  GtkStack *stack;
  GtkListBox *vm_list;
  GtkLabel *error_label;
  GtkInfoBar *info_bar;
  GtkLabel *info_label;
  GtkWidget *guest_panel; /* NULL until a guest hub is set */
  TandemSnapshotManager *snapshots; /* NULL: Start always boots */
  TandemDiskManager *disks;         /* NULL: no Storage page */
  GtkWidget *storage_panel;         /* in the guest panel's pages */
};

G_DEFINE_TYPE(TandemWindow, tandem_window, GTK_TYPE_APPLICATION_WINDOW)

enum { PROP_0, PROP_MANAGER, N_PROPS };
static GParamSpec *props[N_PROPS];

static const char *state_text(TandemVmState state) {
  switch (state) {
  /* TRANSLATORS: the states of a VM, shown beside its name. */
  case TANDEM_VM_STOPPED: return _("Stopped");
  case TANDEM_VM_STARTING: return _("Starting…");
  case TANDEM_VM_RUNNING: return _("Running");
  case TANDEM_VM_PAUSED: return _("Paused");
  case TANDEM_VM_STOPPING: return _("Stopping…");
  case TANDEM_VM_CRASHED: return _("Crashed");
  }
  return "";
}

static void show_error(TandemWindow *self, const char *text) {
  gtk_label_set_text(self->info_label, text);
  gtk_widget_show(GTK_WIDGET(self->info_bar));
}

static void update_row(VmRow *r) {
  TandemVmState s = tandem_vm_get_state(r->vm);
  const TandemVmConfig *c = tandem_vm_get_config(r->vm);
  gboolean busy = s == TANDEM_VM_STARTING || s == TANDEM_VM_STOPPING;
  gboolean can_stop = s == TANDEM_VM_RUNNING || s == TANDEM_VM_PAUSED;
  TandemAccel accel = tandem_vm_get_accel(r->vm);
  g_autofree char *detail = NULL;

  gtk_widget_set_tooltip_text(r->detail, NULL);
  if (s == TANDEM_VM_CRASHED && tandem_vm_get_crash_report(r->vm)) {
    /* "QEMU exited with status 1." then QEMU's log; its last line says why,
     * after the last ": " ("... -blockdev ...: Image is not in qcow2
     * format"). The whole report is in the tooltip. */
    const char *report = tandem_vm_get_crash_report(r->vm);
    g_auto(GStrv) lines = g_strsplit(report, "\n", -1);
    guint n = g_strv_length(lines);
    const char *why = n > 1 ? g_strrstr(lines[n - 1], ": ") : NULL;
    detail = why ? g_strdup_printf("%s %s", lines[0], why + 2)
                 : g_strdup(lines[0]);
    gtk_widget_set_tooltip_text(r->detail, report);
  } else {
    g_autofree char *how = g_ascii_strup(
        tandem_accel_to_string(accel == TANDEM_ACCEL_AUTO ? c->accel : accel),
        -1);
    /* TRANSLATORS: a VM's details: accelerator, memory in MiB, CPUs. */
    detail = g_strdup_printf(ngettext("%s · %u MiB · %u CPU",
                                      "%s · %u MiB · %u CPUs", c->cpus),
                             how, (guint)(c->memory >> 20), c->cpus);
  }
  gtk_label_set_text(GTK_LABEL(r->detail), detail);
  gtk_label_set_text(GTK_LABEL(r->state), state_text(s));
  if (busy)
    gtk_spinner_start(GTK_SPINNER(r->spinner));
  else
    gtk_spinner_stop(GTK_SPINNER(r->spinner));
  gtk_widget_set_visible(r->spinner, busy);
  gtk_button_set_label(GTK_BUTTON(r->button),
                       can_stop || s == TANDEM_VM_STOPPING ? _("Stop")
                                                          : _("Start"));
  gtk_widget_set_sensitive(r->button, !busy);
}

static void on_started(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(TandemWindow) self = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = TANDEM_IS_SNAPSHOT_MANAGER(source)
                    ? tandem_snapshot_manager_start_finish(
                          TANDEM_SNAPSHOT_MANAGER(source), result, NULL,
                          &error)
                    : tandem_vm_start_finish(TANDEM_VM(source), result,
                                             &error);
  if (!ok) {
    /* TRANSLATORS: %s is why; the VM's name is in it. */
    g_autofree char *msg = g_strdup_printf(_("Could not start: %s"),
                                           error->message);
    show_error(self, msg);
  }
}

static void on_stopped(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(TandemWindow) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) saved = NULL;
  gboolean ok = TANDEM_IS_SNAPSHOT_MANAGER(source)
                    ? (saved = tandem_snapshot_manager_suspend_finish(
                           TANDEM_SNAPSHOT_MANAGER(source), result,
                           &error)) != NULL
                    : tandem_vm_stop_finish(TANDEM_VM(source), result,
                                            &error);
  if (!ok) {
    g_autofree char *msg = g_strdup_printf(_("Could not stop: %s"),
                                           error->message);
    show_error(self, msg);
  }
}

static void on_action_clicked(GtkButton *button, gpointer data) {
  TandemWindow *self = g_object_get_data(G_OBJECT(button), "window");
  VmRow *r = data;
  TandemVmState s = tandem_vm_get_state(r->vm);

  gtk_widget_hide(GTK_WIDGET(self->info_bar));
  const char *name = tandem_vm_get_name(r->vm);
  if ((s == TANDEM_VM_RUNNING || s == TANDEM_VM_PAUSED) && self->snapshots &&
      tandem_vm_get_config(r->vm)->save_on_stop)
    tandem_snapshot_manager_suspend_async(self->snapshots, name, NULL,
                                          on_stopped, g_object_ref(self));
  else if (s == TANDEM_VM_RUNNING || s == TANDEM_VM_PAUSED)
    tandem_vm_stop_async(r->vm, FALSE, NULL, on_stopped, g_object_ref(self));
  else if (self->snapshots) /* a saved session resumes */
    tandem_snapshot_manager_start_async(self->snapshots, name, NULL,
                                        on_started, g_object_ref(self));
  else
    tandem_vm_start_async(r->vm, NULL, on_started, g_object_ref(self));
}

static GtkWidget *label_new(const char *text, gboolean dim) {
  GtkWidget *l = gtk_label_new(text);
  gtk_widget_set_halign(l, GTK_ALIGN_START);
  gtk_label_set_ellipsize(GTK_LABEL(l), PANGO_ELLIPSIZE_END);
  if (dim)
    gtk_style_context_add_class(gtk_widget_get_style_context(l), "dim-label");
  return l;
}

static void add_row(TandemWindow *self, TandemVm *vm) {
  VmRow *r = g_new0(VmRow, 1);
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *name = label_new(tandem_vm_get_name(vm), FALSE);
  g_autofree char *markup = g_markup_printf_escaped("<b>%s</b>",
                                                    tandem_vm_get_name(vm));

  r->vm = vm;
  r->detail = label_new("", TRUE);
  r->spinner = gtk_spinner_new();
  r->state = label_new("", TRUE);
  r->button = gtk_button_new_with_label("");
  gtk_label_set_markup(GTK_LABEL(name), markup);
  gtk_widget_set_hexpand(text, TRUE);
  gtk_widget_set_valign(r->button, GTK_ALIGN_CENTER);
  g_object_set_data(G_OBJECT(r->button), "window", self);
  g_signal_connect(r->button, "clicked", G_CALLBACK(on_action_clicked), r);
  g_object_set(box, "margin", 12, NULL);
  gtk_container_add(GTK_CONTAINER(text), name);
  gtk_container_add(GTK_CONTAINER(text), r->detail);
  gtk_container_add(GTK_CONTAINER(box),
                    gtk_image_new_from_icon_name("computer-symbolic",
                                                 GTK_ICON_SIZE_DND));
  gtk_container_add(GTK_CONTAINER(box), text);
  gtk_container_add(GTK_CONTAINER(box), r->spinner);
  gtk_container_add(GTK_CONTAINER(box), r->state);
  gtk_container_add(GTK_CONTAINER(box), r->button);
  gtk_widget_show_all(box);
  gtk_list_box_insert(self->vm_list, box, -1);
  g_ptr_array_add(self->rows, r);
  update_row(r);
}

static VmRow *find_row(TandemWindow *self, const char *name) {
  for (guint i = 0; i < self->rows->len; i++) {
    VmRow *r = self->rows->pdata[i];
    if (g_str_equal(tandem_vm_get_name(r->vm), name))
      return r;
  }
  return NULL;
}

/* Rows for the manager's VMs, in its order. */
static void rebuild(TandemWindow *self) {
  g_autoptr(GList) children =
      gtk_container_get_children(GTK_CONTAINER(self->vm_list));
  GPtrArray *vms = tandem_vm_manager_get_vms(self->manager);
  const char *const *problems = tandem_vm_manager_get_problems(self->manager);

  for (GList *l = children; l; l = l->next)
    gtk_widget_destroy(l->data);
  g_ptr_array_set_size(self->rows, 0);
  for (guint i = 0; i < vms->len; i++)
    add_row(self, vms->pdata[i]);

  if (vms->len) {
    gtk_stack_set_visible_child_name(self->stack, "list");
  } else if (problems[0]) {
    g_autofree char *text = g_strjoinv("\n", (char **)problems);
    gtk_label_set_text(self->error_label, text);
    gtk_stack_set_visible_child_name(self->stack, "error");
  } else {
    gtk_stack_set_visible_child_name(self->stack, "empty");
  }
}

static void on_vm_state_changed(TandemVmManager *m, TandemVm *vm, int old,
                                int state, gpointer data) {
  VmRow *r = find_row(data, tandem_vm_get_name(vm));
  if (r)
    update_row(r);
}

void tandem_window_reload(TandemWindow *self) {
  tandem_vm_manager_reload(self->manager);
  rebuild(self);
}

guint tandem_window_get_vm_count(TandemWindow *self) {
  return self->rows->len;
}

gboolean tandem_window_is_empty_state(TandemWindow *self) {
  return g_strcmp0(gtk_stack_get_visible_child_name(self->stack), "empty") ==
         0;
}

const char *tandem_window_get_state_text(TandemWindow *self, const char *vm) {
  VmRow *r = find_row(self, vm);
  return r ? gtk_label_get_text(GTK_LABEL(r->state)) : NULL;
}

gboolean tandem_window_click_action(TandemWindow *self, const char *vm) {
  VmRow *r = find_row(self, vm);
  if (!r || !gtk_widget_get_sensitive(r->button))
    return FALSE;
  gtk_button_clicked(GTK_BUTTON(r->button));
  return TRUE;
}

const char *tandem_window_get_error_text(TandemWindow *self) {
  return gtk_widget_get_visible(GTK_WIDGET(self->info_bar))
             ? gtk_label_get_text(self->info_label) : NULL;
}

static void on_info_response(GtkInfoBar *bar, int response, gpointer data) {
  gtk_widget_hide(GTK_WIDGET(bar));
}

static void on_manager_changed(TandemVmManager *m, TandemVm *vm,
                               gpointer data) {
  rebuild(data);
}

static void tandem_window_constructed(GObject *object) {
  TandemWindow *self = TANDEM_WINDOW(object);

  G_OBJECT_CLASS(tandem_window_parent_class)->constructed(object);
  if (!self->manager)
    self->manager = tandem_vm_manager_new(NULL);
  g_signal_connect_object(self->manager, "vm-state-changed",
                          G_CALLBACK(on_vm_state_changed), self, 0);
  g_signal_connect_object(self->manager, "vm-added",
                          G_CALLBACK(on_manager_changed), self, 0);
  g_signal_connect_object(self->manager, "vm-removed",
                          G_CALLBACK(on_manager_changed), self, 0);
  rebuild(self);
}

static void tandem_window_set_property(GObject *object, guint id,
                                       const GValue *value, GParamSpec *pspec) {
  TandemWindow *self = TANDEM_WINDOW(object);

  switch (id) {
  case PROP_MANAGER:
    g_set_object(&self->manager, g_value_get_object(value));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void tandem_window_dispose(GObject *object) {
  TandemWindow *self = TANDEM_WINDOW(object);

  g_clear_object(&self->manager);
  g_clear_object(&self->snapshots);
  g_clear_object(&self->disks);
  G_OBJECT_CLASS(tandem_window_parent_class)->dispose(object);
}

static void tandem_window_finalize(GObject *object) {
  g_ptr_array_unref(TANDEM_WINDOW(object)->rows);
  G_OBJECT_CLASS(tandem_window_parent_class)->finalize(object);
}

static void tandem_window_class_init(TandemWindowClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

  object_class->constructed = tandem_window_constructed;
  object_class->set_property = tandem_window_set_property;
  object_class->dispose = tandem_window_dispose;
  object_class->finalize = tandem_window_finalize;

  props[PROP_MANAGER] = g_param_spec_object(
      "manager", NULL, NULL, TANDEM_TYPE_VM_MANAGER,
      G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);

  gtk_widget_class_set_template_from_resource(
      widget_class, "/org/tandem/Tandem/tandem-window.ui");
  gtk_widget_class_bind_template_child(widget_class, TandemWindow, stack);
  gtk_widget_class_bind_template_child(widget_class, TandemWindow, vm_list);
  gtk_widget_class_bind_template_child(widget_class, TandemWindow,
                                       error_label);
  gtk_widget_class_bind_template_child(widget_class, TandemWindow, info_bar);
  gtk_widget_class_bind_template_child(widget_class, TandemWindow,
                                       info_label);
  gtk_widget_class_bind_template_callback(widget_class, on_info_response);
}

static void tandem_window_init(TandemWindow *self) {
  self->rows = g_ptr_array_new_with_free_func(g_free);
  gtk_widget_init_template(GTK_WIDGET(self));
}

static void add_storage_page(TandemWindow *self);

void tandem_window_set_guest_hub(TandemWindow *self, TandemGuestHub *hub) {
  if (self->guest_panel || !hub)
    return;
  /* The VMs above, the chosen guest's applications and screen below. */
  GtkWidget *box = gtk_widget_get_parent(GTK_WIDGET(self->stack));
  gtk_widget_set_vexpand(GTK_WIDGET(self->stack), FALSE);
  self->guest_panel = tandem_guest_panel_new(hub, self->manager);
  GtkWidget *sep = gtk_separator_new(GTK_ORIENTATION_HORIZONTAL);
  gtk_box_pack_start(GTK_BOX(box), sep, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), self->guest_panel, TRUE, TRUE, 0);
  gtk_widget_show(sep);
  gtk_widget_show(self->guest_panel);
  gtk_window_set_default_size(GTK_WINDOW(self), 720, 640);
  add_storage_page(self);
}

GtkWidget *tandem_window_get_guest_panel(TandemWindow *self) {
  return self->guest_panel;
}

void tandem_window_set_snapshot_manager(TandemWindow *self,
                                        TandemSnapshotManager *snapshots) {
  g_return_if_fail(TANDEM_IS_WINDOW(self));
  g_set_object(&self->snapshots, snapshots);
  if (self->guest_panel && snapshots)
    tandem_guest_panel_set_snapshot_manager(
        TANDEM_GUEST_PANEL(self->guest_panel), snapshots);
}

/* --- Storage ---------------------------------------------------------------- */

/* The first widget of @type in @widget's tree, depth first. */
static GtkWidget *find_widget(GtkWidget *widget, GType type) {
  g_autoptr(GList) children = NULL;

  if (G_TYPE_CHECK_INSTANCE_TYPE(widget, type))
    return widget;
  if (!GTK_IS_CONTAINER(widget))
    return NULL;
  children = gtk_container_get_children(GTK_CONTAINER(widget));
  for (GList *l = children; l; l = l->next) {
    GtkWidget *found = find_widget(l->data, type);
    if (found)
      return found;
  }
  return NULL;
}

/* The Storage page shows the guest the guest panel shows. */
static void on_guest_chosen(GtkComboBox *chooser, gpointer data) {
  TandemWindow *self = data;

  if (self->storage_panel && self->guest_panel)
    tandem_storage_panel_set_vm(
        TANDEM_STORAGE_PANEL(self->storage_panel),
        tandem_guest_panel_get_selected(TANDEM_GUEST_PANEL(self->guest_panel)));
}

/* Beside the guest panel's other pages (its stack), following its guest
 * chooser (its combo box): the guest panel makes both itself. */
static void add_storage_page(TandemWindow *self) {
  GtkWidget *stack, *chooser;

  if (self->storage_panel || !self->guest_panel || !self->disks)
    return;
  stack = find_widget(self->guest_panel, GTK_TYPE_STACK);
  chooser = find_widget(self->guest_panel, GTK_TYPE_COMBO_BOX);
  g_return_if_fail(stack != NULL && chooser != NULL);
  self->storage_panel = tandem_storage_panel_new(self->disks, self->manager);
  gtk_stack_add_titled(GTK_STACK(stack), self->storage_panel, "storage",
                       /* TRANSLATORS: the page of a VM's network disks. */
                       _("Storage"));
  g_signal_connect_object(chooser, "changed", G_CALLBACK(on_guest_chosen),
                          self, G_CONNECT_AFTER);
  on_guest_chosen(GTK_COMBO_BOX(chooser), self);
}

void tandem_window_set_disk_manager(TandemWindow *self,
                                    TandemDiskManager *disks) {
  g_return_if_fail(TANDEM_IS_WINDOW(self));
  g_return_if_fail(TANDEM_IS_DISK_MANAGER(disks));
  if (self->disks)
    return;
  self->disks = g_object_ref(disks);
  add_storage_page(self);
}

GtkWidget *tandem_window_get_storage_panel(TandemWindow *self) {
  return self->storage_panel;
}

TandemWindow *tandem_window_new_for_manager(GtkApplication *app,
                                            TandemVmManager *manager) {
  return g_object_new(TANDEM_TYPE_WINDOW, "application", app, "manager",
                      manager, NULL);
}

TandemWindow *tandem_window_new(GtkApplication *app, const char *config_dir) {
  g_autoptr(TandemVmManager) m = tandem_vm_manager_new(config_dir);
  return tandem_window_new_for_manager(app, m);
}
