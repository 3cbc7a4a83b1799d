/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One VM's network disks in the shell's window (tandem-storage-panel.h).
 *
 * Everything listed comes from the application's TandemDiskManager: the
 * list is read again whenever it says one of the VM's attachments was
 * added, removed or changed state, whoever asked (this panel or
 * tandemctl). Attach and Detach only start the manager's asynchronous
 * operations; a spinner turns until they end, and a failure is shown with
 * the manager's own words, which say what to do. A detach the guest
 * refuses because files are open on the disk can be forced from there. */
#include "config.h"

#include "tandem-storage-panel.h"

#include "tandem-i18n.h"

struct _TandemStoragePanel {
  GtkBox parent_instance;
  TandemDiskManager *disks;
  TandemVmManager *manager;
  char *vm; /* NULL: no VM chosen */

  /* The form. */
  GtkEntry *address;
  GtkEntry *name;
  GtkComboBoxText *bus;
  GtkToggleButton *read_only;
  GtkWidget *attach;
  GtkLabel *problem; /* what is wrong with the address or the name */

  /* Progress or the last failure. */
  GtkWidget *status_box;
  GtkSpinner *spinner;
  GtkWidget *status_icon;
  GtkLabel *status;
  GtkWidget *force;  /* "Detach anyway", after the guest said busy */
  char *force_name;  /* ... which disk */

  GtkListBox *list;
  GtkWidget *scroll; /* the list's, hidden while it is empty */
  GtkLabel *empty;

  char *attaching_vm; /* an attach started here runs for this VM */
  guint running;      /* operations started here, not finished */
};

G_DEFINE_TYPE(TandemStoragePanel, tandem_storage_panel, GTK_TYPE_BOX)

/* --- Words ---------------------------------------------------------------- */

static const char *state_text(TandemDiskState state) {
  switch (state) {
  /* TRANSLATORS: the states of a network disk, in the window's list. */
  case TANDEM_DISK_ATTACHING: return _("Attaching…");
  case TANDEM_DISK_ATTACHED: return _("Attached");
  case TANDEM_DISK_DETACHING: return _("Detaching…");
  case TANDEM_DISK_FAILED: return _("Not attached");
  /* TRANSLATORS: a mirrored disk that lost one of its two servers. */
  case TANDEM_DISK_DEGRADED: return _("Degraded");
  /* TRANSLATORS: a disk whose server is away; QEMU tries again. */
  case TANDEM_DISK_RECONNECTING: return _("Reconnecting…");
  }
  return "";
}

static const char *bus_text(TandemDiskBus bus) {
  /* TRANSLATORS: the emulated controllers a network disk can be
   * attached to. */
  return bus == TANDEM_DISK_BUS_VIRTIO ? _("virtio-blk") : _("NVMe");
}

/* Where the guest mounted the disk, or why it did not: "mounted at
 * /media/photos · ext4 · 1.2 GB free of 2.0 GB", "not mounted: ...". */
static char *mount_text(const TandemDiskInfo *info) {
  const char *message = info->message ? info->message : "";
  GString *text = g_string_new(NULL);

  if (info->state == TANDEM_DISK_FAILED ||
      info->state == TANDEM_DISK_RECONNECTING) {
    /* In the VM's configuration, but it could not be attached at the
     * start: the message says why. */
    g_string_append(text, *message ? message
                                   : _("it could not be attached when the "
                                       "VM started"));
    return g_string_free(text, FALSE);
  }
  if (info->state == TANDEM_DISK_DEGRADED && *message) {
    /* Which server was lost, and that the other carries on. */
    g_string_append(text, message);
    g_string_append(text, " · ");
    message = "";
  }
  switch (info->mount) {
  case TANDEM_DISK_MOUNT_MOUNTED:
    /* TRANSLATORS: %s is where the guest mounted the disk. */
    g_string_append_printf(text, _("mounted at %s"),
                           info->mountpoint ? info->mountpoint : "?");
    if (info->fs_type && *info->fs_type)
      g_string_append_printf(text, " · %s", info->fs_type);
    if (info->total_bytes) {
      g_autofree char *free_size = g_format_size(info->free_bytes);
      g_autofree char *total = g_format_size(info->total_bytes);
      g_string_append(text, " · ");
      /* TRANSLATORS: free space, then the file system's size. */
      g_string_append_printf(text, _("%s free of %s"), free_size, total);
    }
    if (*message)
      g_string_append_printf(text, " · %s", message);
    break;
  case TANDEM_DISK_MOUNT_NO_FILESYSTEM:
    g_string_append(text, *message ? message
                                   : _("no file system, nothing was "
                                       "formatted"));
    break;
  case TANDEM_DISK_MOUNT_NO_AGENT:
    g_string_append(text, *message ? message
                                   : _("not mounted: the VM has no agent "
                                       "that can mount it"));
    break;
  case TANDEM_DISK_MOUNT_FAILED:
    /* TRANSLATORS: %s is why (the guest's words). */
    g_string_append_printf(text, _("not mounted: %s"),
                           *message ? message
                                    : _("the guest could not mount it"));
    break;
  case TANDEM_DISK_MOUNT_NONE:
    if (*message)
      g_string_append_printf(text, _("not mounted: %s"), message);
    else if (info->state == TANDEM_DISK_ATTACHED)
      g_string_append(text, _("not mounted"));
    break;
  }
  return g_string_free(text, FALSE);
}

/* The line under a disk's name: "NVMe · read-only · 16 MB · mounted
 * at ...". */
static char *detail_text(const TandemDiskInfo *info) {
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *mount = mount_text(info);

  g_ptr_array_add(parts, g_strdup(bus_text(info->bus)));
  if (info->read_only)
    g_ptr_array_add(parts, g_strdup(_("read-only")));
  if (info->size_bytes)
    g_ptr_array_add(parts, g_format_size(info->size_bytes));
  if (*mount)
    g_ptr_array_add(parts, g_steal_pointer(&mount));
  g_ptr_array_add(parts, NULL);
  return g_strjoinv(" · ", (char **)parts->pdata);
}

static void set_accessible_name(GtkWidget *widget, const char *name) {
  atk_object_set_name(gtk_widget_get_accessible(widget), name);
}

static GtkWidget *label_new(const char *text, gboolean dim) {
  GtkWidget *label = gtk_label_new(text);

  gtk_widget_set_halign(label, GTK_ALIGN_START);
  gtk_label_set_xalign(GTK_LABEL(label), 0);
  gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
  if (dim)
    gtk_style_context_add_class(gtk_widget_get_style_context(label),
                                "dim-label");
  return label;
}

/* --- The status line ------------------------------------------------------- */

/* @text with a spinner (@busy) or an error icon; NULL hides the line. */
static void set_status(TandemStoragePanel *self, const char *text,
                       gboolean busy) {
  gboolean shown = text && *text;

  gtk_label_set_text(self->status, shown ? text : "");
  gtk_widget_set_visible(self->status_box, shown);
  gtk_widget_set_visible(GTK_WIDGET(self->spinner), shown && busy);
  if (shown && busy)
    gtk_spinner_start(self->spinner);
  else
    gtk_spinner_stop(self->spinner);
  gtk_widget_set_visible(self->status_icon, shown && !busy);
  gtk_widget_hide(self->force);
  g_clear_pointer(&self->force_name, g_free);
}

/* --- What can be clicked ----------------------------------------------------- */

static TandemVm *chosen_vm(TandemStoragePanel *self) {
  return self->vm ? tandem_vm_manager_lookup(self->manager, self->vm) : NULL;
}

static gboolean vm_runs(TandemStoragePanel *self) {
  TandemVm *vm = chosen_vm(self);
  return vm && tandem_vm_get_state(vm) == TANDEM_VM_RUNNING;
}

/* What is wrong with the form as typed ("" if nothing, or if the address
 * is still empty). */
static char *form_problem(TandemStoragePanel *self) {
  const char *address = gtk_entry_get_text(self->address);
  const char *name = gtk_entry_get_text(self->name);
  g_autoptr(GError) error = NULL;

  if (*address) {
    g_autoptr(TandemStorageUri) uri = tandem_storage_uri_parse(address,
                                                               &error);
    if (!uri)
      return g_strdup(error->message);
  }
  if (*name && !tandem_disk_name_is_valid(name))
    return g_strdup_printf(_("A disk's name is 1 to %d letters, digits, "
                             "dots, dashes or underscores, not starting "
                             "with a dot or a dash."),
                           TANDEM_DISK_MAX_NAME);
  return g_strdup("");
}

/* Attach: a running VM, an address that parses, a name that can be one (or
 * none), and no attach from here under way. */
static void update_sensitivity(TandemStoragePanel *self) {
  g_autofree char *problem = form_problem(self);
  gboolean has_vm = chosen_vm(self) != NULL;
  gboolean runs = vm_runs(self);
  gboolean empty = !*gtk_entry_get_text(self->address);
  gboolean can = runs && !self->attaching_vm && !empty && !*problem;
  const char *why = NULL;

  gtk_label_set_text(self->problem, problem);
  gtk_widget_set_visible(GTK_WIDGET(self->problem), *problem);
  gtk_entry_set_icon_from_icon_name(
      self->address, GTK_ENTRY_ICON_SECONDARY,
      *problem ? "dialog-warning-symbolic" : NULL);
  gtk_entry_set_icon_tooltip_text(self->address, GTK_ENTRY_ICON_SECONDARY,
                                  *problem ? problem : NULL);
  if (!has_vm)
    why = NULL;
  else if (!runs)
    why = _("Start the VM to attach a disk.");
  else if (self->attaching_vm)
    why = _("A disk is being attached.");
  else if (empty)
    why = _("Type the disk's address first.");
  else if (*problem)
    why = problem;
  gtk_widget_set_sensitive(self->attach, can);
  gtk_widget_set_tooltip_text(self->attach, why);
  gtk_widget_set_sensitive(GTK_WIDGET(self->address), has_vm);
  gtk_widget_set_sensitive(GTK_WIDGET(self->name), has_vm);
  gtk_widget_set_sensitive(GTK_WIDGET(self->bus), has_vm);
  gtk_widget_set_sensitive(GTK_WIDGET(self->read_only), has_vm);
}

static void on_form_changed(GtkWidget *widget, gpointer data) {
  update_sensitivity(data);
}

/* --- The list ----------------------------------------------------------------- */

static void on_detach_clicked(GtkButton *button, gpointer data) {
  tandem_storage_panel_detach(
      data, g_object_get_data(G_OBJECT(button), "disk-name"), FALSE);
}

/* "photos  Attached" in bold; below, dim, "NVMe · mounted at
 * /media/photos · ext4 · 1.2 GB free of 2.0 GB"; below that the address.
 * A spinner while the disk comes or goes; Detach. */
static GtkWidget *row_new(TandemStoragePanel *self,
                          const TandemDiskInfo *info) {
  GtkWidget *row = gtk_list_box_row_new();
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *heading = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *title = label_new(NULL, FALSE);
  GtkWidget *state = label_new(state_text(info->state), TRUE);
  g_autofree char *markup = g_markup_printf_escaped("<b>%s</b>", info->name);
  g_autofree char *detail = detail_text(info);
  GtkWidget *detail_label = label_new(detail, TRUE);
  /* TRANSLATORS: the two addresses of a mirrored disk. */
  g_autofree char *uris = info->mirror && *info->mirror
                              ? g_strdup_printf(_("%s + %s"), info->uri,
                                                info->mirror)
                              : g_strdup(info->uri);
  GtkWidget *uri = label_new(uris, TRUE);
  GtkWidget *spinner = gtk_spinner_new();
  GtkWidget *detach = gtk_button_new_with_mnemonic(_("_Detach"));
  gboolean failed = info->state == TANDEM_DISK_FAILED;
  gboolean trouble = failed || info->state == TANDEM_DISK_DEGRADED ||
                     info->state == TANDEM_DISK_RECONNECTING;
  gboolean settled = info->state == TANDEM_DISK_ATTACHED || trouble;
  /* TRANSLATORS: the accessible name of a disk's Detach button. */
  g_autofree char *detach_name = g_strdup_printf(_("Detach %s"), info->name);

  gtk_label_set_markup(GTK_LABEL(title), markup);
  gtk_label_set_ellipsize(GTK_LABEL(title), PANGO_ELLIPSIZE_NONE);
  gtk_container_add(GTK_CONTAINER(heading), title);
  gtk_container_add(GTK_CONTAINER(heading), state);
  /* Why it is not mounted can take a sentence: all of it is shown. */
  gtk_label_set_line_wrap(GTK_LABEL(detail_label), TRUE);
  gtk_label_set_ellipsize(GTK_LABEL(detail_label), PANGO_ELLIPSIZE_NONE);
  gtk_label_set_max_width_chars(GTK_LABEL(detail_label), 60);
  gtk_label_set_ellipsize(GTK_LABEL(uri), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_tooltip_text(uri, uris);
  gtk_widget_set_hexpand(text, TRUE);
  gtk_container_add(GTK_CONTAINER(text), heading);
  gtk_container_add(GTK_CONTAINER(text), detail_label);
  gtk_container_add(GTK_CONTAINER(text), uri);

  gtk_widget_set_valign(detach, GTK_ALIGN_CENTER);
  gtk_widget_set_sensitive(detach, settled);
  if (failed && !info->plugged)
    gtk_widget_set_tooltip_text(detach,
                                _("Remove it from the VM's configuration: it "
                                  "is not attached."));
  g_object_set_data_full(G_OBJECT(detach), "disk-name", g_strdup(info->name),
                         g_free);
  g_signal_connect(detach, "clicked", G_CALLBACK(on_detach_clicked), self);
  set_accessible_name(detach, detach_name);

  g_object_set(box, "margin", 6, NULL);
  gtk_container_add(GTK_CONTAINER(box),
                    gtk_image_new_from_icon_name(
                        trouble ? "dialog-warning-symbolic"
                               : "drive-harddisk-symbolic",
                        GTK_ICON_SIZE_BUTTON));
  gtk_container_add(GTK_CONTAINER(box), text);
  gtk_container_add(GTK_CONTAINER(box), spinner);
  gtk_container_add(GTK_CONTAINER(box), detach);
  gtk_container_add(GTK_CONTAINER(row), box);
  g_object_set_data_full(G_OBJECT(row), "disk-name", g_strdup(info->name),
                         g_free);
  g_object_set_data_full(G_OBJECT(row), "disk-text",
                         g_strdup_printf("%s · %s", state_text(info->state),
                                         detail),
                         g_free);
  set_accessible_name(row, info->name);
  gtk_widget_show_all(row);
  gtk_widget_set_visible(spinner, !settled);
  if (!settled)
    gtk_spinner_start(GTK_SPINNER(spinner));
  return row;
}

/* The chosen VM's attachments, in the order they were made. */
static void refill(TandemStoragePanel *self) {
  g_autoptr(GList) rows =
      gtk_container_get_children(GTK_CONTAINER(self->list));
  g_autoptr(GPtrArray) disks = NULL;
  g_autoptr(GError) error = NULL;

  for (GList *l = rows; l; l = l->next)
    gtk_widget_destroy(l->data);
  if (chosen_vm(self))
    disks = tandem_disk_manager_list(self->disks, self->vm, &error);
  for (guint i = 0; disks && i < disks->len; i++)
    gtk_list_box_insert(self->list, row_new(self, disks->pdata[i]), -1);

  if (!self->vm)
    gtk_label_set_text(self->empty, _("No VM chosen."));
  else if (!chosen_vm(self))
    gtk_label_set_text(self->empty, _("This guest runs without a VM: "
                                      "network disks attach to VMs only."));
  else if (!disks)
    gtk_label_set_text(self->empty, error->message);
  else if (vm_runs(self))
    gtk_label_set_text(self->empty,
                       _("Nothing attached. Type the address of a network "
                         "disk (NBD or iSCSI) above: the VM sees it as a "
                         "local disk, and its agent mounts it."));
  else
    gtk_label_set_text(self->empty, _("Nothing attached. Start the VM to "
                                      "attach a network disk."));
  gtk_widget_set_visible(GTK_WIDGET(self->empty), !disks || disks->len == 0);
  gtk_widget_set_visible(self->scroll, disks && disks->len > 0);
  update_sensitivity(self);
}

static void on_changed(TandemDiskManager *disks, const char *vm,
                       TandemStoragePanel *self) {
  if (g_strcmp0(vm, self->vm) == 0)
    refill(self);
}

static void on_vm_state_changed(TandemVmManager *manager, TandemVm *vm,
                                int old_state, int new_state,
                                TandemStoragePanel *self) {
  if (g_strcmp0(tandem_vm_get_name(vm), self->vm) == 0)
    refill(self);
}

/* --- The actions ---------------------------------------------------------------- */

typedef struct {
  TandemStoragePanel *self; /* a reference */
  char *vm, *name;
  gboolean attach;
} Op;

static Op *op_new(TandemStoragePanel *self, const char *name,
                  gboolean attach) {
  Op *op = g_new0(Op, 1);

  op->self = g_object_ref(self);
  op->vm = g_strdup(self->vm);
  op->name = g_strdup(name);
  op->attach = attach;
  self->running++;
  return op;
}

static void op_free(Op *op) {
  op->self->running--;
  g_object_unref(op->self);
  g_free(op->vm);
  g_free(op->name);
  g_free(op);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Op, op_free)

/* The end of an operation started here, for a panel still showing its
 * VM: the failure, or nothing (the list shows the outcome). */
static void op_done(Op *op, const GError *error) {
  TandemStoragePanel *self = op->self;

  if (!self->disks || g_strcmp0(op->vm, self->vm) != 0)
    return; /* disposed, or another VM is shown */
  if (error) {
    set_status(self, error->message, FALSE);
    if (!op->attach &&
        g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY)) {
      self->force_name = g_strdup(op->name);
      gtk_widget_show(self->force);
    }
  } else if (self->running == 1) { /* this one was the last */
    set_status(self, NULL, FALSE);
  }
}

static void on_attached(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(Op) op = data;
  TandemStoragePanel *self = op->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemDiskInfo) info = tandem_disk_manager_attach_finish(
      TANDEM_DISK_MANAGER(source), result, &error);

  g_clear_pointer(&self->attaching_vm, g_free);
  if (!self->disks)
    return;
  if (info && g_strcmp0(op->vm, self->vm) == 0) {
    gtk_entry_set_text(self->address, "");
    gtk_entry_set_text(self->name, "");
  }
  op_done(op, error);
  update_sensitivity(self);
}

void tandem_storage_panel_attach(TandemStoragePanel *self) {
  const char *address, *name;
  g_autofree char *problem = NULL;
  g_autofree char *shown_name = NULL;
  g_autofree char *text = NULL;
  TandemDiskBus bus = TANDEM_DISK_BUS_NVME;

  g_return_if_fail(TANDEM_IS_STORAGE_PANEL(self));
  if (!self->vm || self->attaching_vm)
    return;
  address = gtk_entry_get_text(self->address);
  name = gtk_entry_get_text(self->name);
  problem = form_problem(self);
  if (!*address) {
    set_status(self, _("Type the disk's address first, for example "
                       "nbd://host/export."), FALSE);
    return;
  }
  if (*problem) {
    set_status(self, problem, FALSE);
    return;
  }
  tandem_disk_bus_from_string(
      gtk_combo_box_get_active_id(GTK_COMBO_BOX(self->bus)), &bus);
  if (*name) {
    shown_name = g_strdup(name);
  } else {
    g_autoptr(TandemStorageUri) uri = tandem_storage_uri_parse(address, NULL);
    shown_name = uri ? tandem_storage_uri_default_name(uri) : g_strdup("");
  }
  /* TRANSLATORS: %s is the disk's name. */
  text = g_strdup_printf(_("Attaching “%s”…"), shown_name);
  set_status(self, text, TRUE);
  self->attaching_vm = g_strdup(self->vm);
  tandem_disk_manager_attach_async(
      self->disks, self->vm, address, NULL, bus, *name ? name : NULL,
      gtk_toggle_button_get_active(self->read_only), NULL, on_attached,
      op_new(self, shown_name, TRUE));
  update_sensitivity(self);
}

static void on_detached(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(Op) op = data;
  g_autoptr(GError) error = NULL;

  tandem_disk_manager_detach_finish(TANDEM_DISK_MANAGER(source), result,
                                    &error);
  op_done(op, error);
}

void tandem_storage_panel_detach(TandemStoragePanel *self, const char *name,
                                 gboolean force) {
  g_autofree char *text = NULL;

  g_return_if_fail(TANDEM_IS_STORAGE_PANEL(self));
  g_return_if_fail(name != NULL);
  if (!self->vm)
    return;
  text = force ? g_strdup_printf(_("Detaching “%s” although it is in "
                                   "use…"), name)
               /* TRANSLATORS: %s is the disk's name. */
               : g_strdup_printf(_("Detaching “%s”…"), name);
  set_status(self, text, TRUE);
  /* "changed" shows the row as being detached, then removes it. */
  tandem_disk_manager_detach_async(self->disks, self->vm, name, force, NULL,
                                   on_detached, op_new(self, name, FALSE));
}

static void on_attach_clicked(GtkWidget *widget, gpointer data) {
  TandemStoragePanel *self = data;

  /* Enter in a field attaches only when the button could be clicked. */
  if (gtk_widget_get_sensitive(self->attach))
    tandem_storage_panel_attach(self);
}

static void on_force_clicked(GtkButton *button, gpointer data) {
  TandemStoragePanel *self = data;
  g_autofree char *name = g_strdup(self->force_name);

  if (name)
    tandem_storage_panel_detach(self, name, TRUE);
}

/* --- For tests ------------------------------------------------------------------- */

static GtkWidget *find_row(TandemStoragePanel *self, const char *name) {
  g_autoptr(GList) rows =
      gtk_container_get_children(GTK_CONTAINER(self->list));

  for (GList *l = rows; l; l = l->next)
    if (g_strcmp0(g_object_get_data(l->data, "disk-name"), name) == 0)
      return l->data;
  return NULL;
}

GStrv tandem_storage_panel_get_names(TandemStoragePanel *self) {
  g_autoptr(GStrvBuilder) names = g_strv_builder_new();
  g_autoptr(GList) rows =
      gtk_container_get_children(GTK_CONTAINER(self->list));

  for (GList *l = rows; l; l = l->next)
    g_strv_builder_add(names, g_object_get_data(l->data, "disk-name"));
  return g_strv_builder_end(names);
}

char *tandem_storage_panel_get_row_text(TandemStoragePanel *self,
                                        const char *name) {
  GtkWidget *row = find_row(self, name);

  return row ? g_strdup(g_object_get_data(G_OBJECT(row), "disk-text"))
             : NULL;
}

const char *tandem_storage_panel_get_status(TandemStoragePanel *self) {
  return gtk_label_get_text(self->status);
}

const char *tandem_storage_panel_get_address_problem(
    TandemStoragePanel *self) {
  return gtk_label_get_text(self->problem);
}

const char *tandem_storage_panel_get_empty_text(TandemStoragePanel *self) {
  return gtk_widget_get_visible(GTK_WIDGET(self->empty))
             ? gtk_label_get_text(self->empty)
             : "";
}

gboolean tandem_storage_panel_can_attach(TandemStoragePanel *self) {
  return gtk_widget_get_sensitive(self->attach);
}

gboolean tandem_storage_panel_can_force(TandemStoragePanel *self) {
  return gtk_widget_get_visible(self->force) &&
         gtk_widget_get_sensitive(self->force);
}

void tandem_storage_panel_set_address(TandemStoragePanel *self,
                                      const char *uri) {
  gtk_entry_set_text(self->address, uri);
}

void tandem_storage_panel_set_name(TandemStoragePanel *self,
                                   const char *name) {
  gtk_entry_set_text(self->name, name);
}

void tandem_storage_panel_set_bus(TandemStoragePanel *self,
                                  TandemDiskBus bus) {
  gtk_combo_box_set_active_id(GTK_COMBO_BOX(self->bus),
                              tandem_disk_bus_to_string(bus));
}

void tandem_storage_panel_set_read_only(TandemStoragePanel *self,
                                        gboolean read_only) {
  gtk_toggle_button_set_active(self->read_only, read_only);
}

/* --- Life ------------------------------------------------------------------------- */

void tandem_storage_panel_set_vm(TandemStoragePanel *self, const char *vm) {
  g_return_if_fail(TANDEM_IS_STORAGE_PANEL(self));

  if (g_strcmp0(self->vm, vm) != 0) {
    g_free(self->vm);
    self->vm = g_strdup(vm);
    set_status(self, NULL, FALSE);
  }
  refill(self);
}

/* Address [Attach]; Name, Bus, Read-only below. */
static GtkWidget *build_form(TandemStoragePanel *self) {
  GtkWidget *grid = gtk_grid_new();
  GtkWidget *options = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *bus_label = gtk_label_new_with_mnemonic(_("_Bus:"));

  gtk_grid_set_row_spacing(GTK_GRID(grid), 6);
  gtk_grid_set_column_spacing(GTK_GRID(grid), 6);

  self->address = GTK_ENTRY(gtk_entry_new());
  gtk_entry_set_max_length(self->address, TANDEM_STORAGE_MAX_URI);
  gtk_entry_set_input_purpose(self->address, GTK_INPUT_PURPOSE_URL);
  gtk_entry_set_placeholder_text(
      self->address,
      /* TRANSLATORS: the address field's placeholder: keep the forms. */
      _("nbd://host/export or iscsi://host/target/lun"));
  gtk_widget_set_tooltip_text(
      GTK_WIDGET(self->address),
      _("The network disk's address:\n"
        "nbd://HOST[:PORT]/EXPORT\n"
        "nbd+unix:///EXPORT?socket=PATH\n"
        "iscsi://HOST[:PORT]/TARGET/LUN"));
  gtk_widget_set_hexpand(GTK_WIDGET(self->address), TRUE);
  set_accessible_name(GTK_WIDGET(self->address), _("Disk address"));
  g_signal_connect(self->address, "changed", G_CALLBACK(on_form_changed),
                   self);
  g_signal_connect(self->address, "activate", G_CALLBACK(on_attach_clicked),
                   self);

  self->attach = gtk_button_new_with_mnemonic(_("_Attach"));
  gtk_style_context_add_class(gtk_widget_get_style_context(self->attach),
                              "suggested-action");
  set_accessible_name(self->attach, _("Attach"));
  g_signal_connect(self->attach, "clicked", G_CALLBACK(on_attach_clicked),
                   self);

  self->name = GTK_ENTRY(gtk_entry_new());
  gtk_entry_set_max_length(self->name, TANDEM_DISK_MAX_NAME);
  gtk_entry_set_width_chars(self->name, 16);
  gtk_entry_set_placeholder_text(self->name, _("Name (optional)"));
  gtk_widget_set_tooltip_text(
      GTK_WIDGET(self->name),
      _("Names the disk and its mount point in the guest; without one, it "
        "is named after the export."));
  set_accessible_name(GTK_WIDGET(self->name), _("Disk name"));
  g_signal_connect(self->name, "changed", G_CALLBACK(on_form_changed), self);
  g_signal_connect(self->name, "activate", G_CALLBACK(on_attach_clicked),
                   self);

  self->bus = GTK_COMBO_BOX_TEXT(gtk_combo_box_text_new());
  gtk_combo_box_text_append(self->bus,
                            tandem_disk_bus_to_string(TANDEM_DISK_BUS_NVME),
                            bus_text(TANDEM_DISK_BUS_NVME));
  gtk_combo_box_text_append(self->bus,
                            tandem_disk_bus_to_string(TANDEM_DISK_BUS_VIRTIO),
                            bus_text(TANDEM_DISK_BUS_VIRTIO));
  gtk_combo_box_set_active_id(GTK_COMBO_BOX(self->bus),
                              tandem_disk_bus_to_string(TANDEM_DISK_BUS_NVME));
  gtk_label_set_mnemonic_widget(GTK_LABEL(bus_label), GTK_WIDGET(self->bus));
  gtk_widget_set_tooltip_text(
      GTK_WIDGET(self->bus),
      _("The controller the guest sees the disk on: NVMe needs no driver "
        "beyond the kernel's; virtio-blk is lighter."));
  set_accessible_name(GTK_WIDGET(self->bus), _("Bus"));

  self->read_only = GTK_TOGGLE_BUTTON(
      gtk_check_button_new_with_mnemonic(_("_Read-only")));
  set_accessible_name(GTK_WIDGET(self->read_only), _("Read-only"));

  gtk_box_pack_start(GTK_BOX(options), GTK_WIDGET(self->name), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(options), bus_label, FALSE, FALSE, 6);
  gtk_box_pack_start(GTK_BOX(options), GTK_WIDGET(self->bus), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(options), GTK_WIDGET(self->read_only), FALSE,
                     FALSE, 6);

  self->problem = GTK_LABEL(label_new(NULL, FALSE));
  gtk_label_set_line_wrap(self->problem, TRUE);
  gtk_label_set_ellipsize(self->problem, PANGO_ELLIPSIZE_NONE);
  gtk_style_context_add_class(
      gtk_widget_get_style_context(GTK_WIDGET(self->problem)), "dim-label");
  set_accessible_name(GTK_WIDGET(self->problem), _("Address problem"));

  gtk_grid_attach(GTK_GRID(grid), GTK_WIDGET(self->address), 0, 0, 1, 1);
  gtk_grid_attach(GTK_GRID(grid), self->attach, 1, 0, 1, 1);
  gtk_grid_attach(GTK_GRID(grid), options, 0, 1, 2, 1);
  gtk_grid_attach(GTK_GRID(grid), GTK_WIDGET(self->problem), 0, 2, 2, 1);
  return grid;
}

/* [spinner or error icon] status [Detach anyway] */
static GtkWidget *build_status(TandemStoragePanel *self) {
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);

  self->spinner = GTK_SPINNER(gtk_spinner_new());
  self->status_icon = gtk_image_new_from_icon_name("dialog-error-symbolic",
                                                   GTK_ICON_SIZE_BUTTON);
  gtk_widget_set_valign(self->status_icon, GTK_ALIGN_START);
  self->status = GTK_LABEL(label_new(NULL, FALSE));
  gtk_label_set_line_wrap(self->status, TRUE);
  gtk_label_set_ellipsize(self->status, PANGO_ELLIPSIZE_NONE);
  gtk_label_set_selectable(self->status, TRUE);
  gtk_widget_set_hexpand(GTK_WIDGET(self->status), TRUE);
  set_accessible_name(GTK_WIDGET(self->status), _("Storage status"));
  self->force = gtk_button_new_with_mnemonic(_("Detach _Anyway"));
  gtk_widget_set_valign(self->force, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text(
      self->force, _("The programs lose what they have not saved on the "
                     "disk."));
  gtk_style_context_add_class(gtk_widget_get_style_context(self->force),
                              "destructive-action");
  set_accessible_name(self->force, _("Detach anyway"));
  g_signal_connect(self->force, "clicked", G_CALLBACK(on_force_clicked),
                   self);
  gtk_box_pack_start(GTK_BOX(box), GTK_WIDGET(self->spinner), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(box), self->status_icon, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(box), GTK_WIDGET(self->status), TRUE, TRUE, 0);
  gtk_box_pack_start(GTK_BOX(box), self->force, FALSE, FALSE, 0);
  return box;
}

static void build(TandemStoragePanel *self) {
  GtkWidget *scroll = gtk_scrolled_window_new(NULL, NULL);
  GtkWidget *frame = gtk_frame_new(NULL);

  self->scroll = scroll;
  gtk_widget_set_valign(frame, GTK_ALIGN_START);
  self->status_box = build_status(self);
  self->list = GTK_LIST_BOX(gtk_list_box_new());
  gtk_list_box_set_selection_mode(self->list, GTK_SELECTION_NONE);
  set_accessible_name(GTK_WIDGET(self->list), _("Attached disks"));
  self->empty = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_line_wrap(self->empty, TRUE);
  gtk_label_set_justify(self->empty, GTK_JUSTIFY_CENTER);
  gtk_label_set_max_width_chars(self->empty, 60);
  g_object_set(self->empty, "margin", 18, NULL);
  gtk_style_context_add_class(
      gtk_widget_get_style_context(GTK_WIDGET(self->empty)), "dim-label");
  gtk_container_add(GTK_CONTAINER(frame), GTK_WIDGET(self->list));
  gtk_container_add(GTK_CONTAINER(scroll), frame);
  gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroll),
                                 GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand(scroll, TRUE);

  gtk_box_pack_start(GTK_BOX(self), build_form(self), FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), self->status_box, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), GTK_WIDGET(self->empty), FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), scroll, TRUE, TRUE, 0);
  gtk_container_set_border_width(GTK_CONTAINER(self), 6);
  gtk_widget_show_all(GTK_WIDGET(self));
  gtk_widget_hide(GTK_WIDGET(self->problem));
  set_status(self, NULL, FALSE);
  gtk_widget_hide(scroll);
}

GtkWidget *tandem_storage_panel_new(TandemDiskManager *disks,
                                    TandemVmManager *manager) {
  TandemStoragePanel *self;

  g_return_val_if_fail(TANDEM_IS_DISK_MANAGER(disks), NULL);
  g_return_val_if_fail(TANDEM_IS_VM_MANAGER(manager), NULL);
  self = g_object_new(TANDEM_TYPE_STORAGE_PANEL, "orientation",
                      GTK_ORIENTATION_VERTICAL, "spacing", 6, NULL);
  self->disks = g_object_ref(disks);
  self->manager = g_object_ref(manager);
  build(self);
  g_signal_connect(disks, "changed", G_CALLBACK(on_changed), self);
  g_signal_connect(manager, "vm-state-changed",
                   G_CALLBACK(on_vm_state_changed), self);
  refill(self);
  return GTK_WIDGET(self);
}

static void tandem_storage_panel_dispose(GObject *object) {
  TandemStoragePanel *self = TANDEM_STORAGE_PANEL(object);

  if (self->disks) {
    g_signal_handlers_disconnect_by_data(self->disks, self);
    g_clear_object(&self->disks);
  }
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
  G_OBJECT_CLASS(tandem_storage_panel_parent_class)->dispose(object);
}

static void tandem_storage_panel_finalize(GObject *object) {
  TandemStoragePanel *self = TANDEM_STORAGE_PANEL(object);

  g_free(self->vm);
  g_free(self->force_name);
  g_free(self->attaching_vm);
  G_OBJECT_CLASS(tandem_storage_panel_parent_class)->finalize(object);
}

static void tandem_storage_panel_class_init(TandemStoragePanelClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = tandem_storage_panel_dispose;
  G_OBJECT_CLASS(klass)->finalize = tandem_storage_panel_finalize;
}

static void tandem_storage_panel_init(TandemStoragePanel *self) {}
