/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One VM's snapshots in the shell's window (tandem-snapshot-panel.h).
 *
 * Everything shown comes from the application's TandemSnapshotManager:
 * the list is read again when it says the VM's list changed, and its
 * progress is shown whoever started the operation, so a snapshot taken
 * with tandemctl shows here too. Restore and Delete ask first: both lose
 * something for good. */
#include "config.h"

#include "tandem-snapshot-panel.h"

#include "tandem-i18n.h"

struct _TandemSnapshotPanel {
  GtkBox parent_instance;
  TandemSnapshotManager *snapshots;
  TandemVmManager *manager;
  char *vm; /* NULL: no VM chosen, or a guest without one */

  GtkEntry *name;
  GtkWidget *take;
  GtkProgressBar *progress;
  GtkLabel *status;
  GtkListBox *list;
  GtkLabel *empty;
  GtkSwitch *schedule;      /* scheduled snapshots on or off */
  GtkLabel *schedule_label; /* what the schedule does */
  gulong schedule_id;       /* its notify::active handler */
  guint idle_id; /* a refresh once an operation has let go of the VM */
};

G_DEFINE_TYPE(TandemSnapshotPanel, tandem_snapshot_panel, GTK_TYPE_BOX)

/* --- Words ---------------------------------------------------------------- */

static const char *method_text(TandemSnapshotMethod method) {
  if (method == TANDEM_SNAPSHOT_METHOD_BACKGROUND)
    /* TRANSLATORS: how a snapshot was taken, in the window's list. */
    return _("taken in the background");
  if (method == TANDEM_SNAPSHOT_METHOD_PRECOPY)
    /* TRANSLATORS: how a snapshot was taken: the guest ran while its
     * memory was copied, and paused for a moment at the end. */
    return _("taken live");
  return _("taken with the guest paused");
}

/* NULL for the phases that end an operation. */
static const char *phase_text(TandemSnapshotPhase phase) {
  switch (phase) {
  case TANDEM_SNAPSHOT_PHASE_PREPARING:
    return _("Preparing");
  case TANDEM_SNAPSHOT_PHASE_SAVING:
    return _("Saving memory");
  case TANDEM_SNAPSHOT_PHASE_FINISHING:
    return _("Writing the snapshot to disk");
  case TANDEM_SNAPSHOT_PHASE_CHECKING:
    return _("Checking the snapshot");
  case TANDEM_SNAPSHOT_PHASE_LOADING:
    return _("Loading memory");
  case TANDEM_SNAPSHOT_PHASE_DONE:
  case TANDEM_SNAPSHOT_PHASE_FAILED:
    break;
  }
  return NULL;
}

static char *format_date(gint64 unix_time) {
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local(unix_time);

  return time ? g_date_time_format(time, _("%Y-%m-%d %H:%M:%S"))
              : g_strdup("?");
}

static void set_status(TandemSnapshotPanel *self, const char *text) {
  gtk_label_set_text(self->status, text ? text : "");
  gtk_widget_set_visible(GTK_WIDGET(self->status), text && *text);
}

/* --- What can be clicked ---------------------------------------------------- */

static TandemVm *chosen_vm(TandemSnapshotPanel *self) {
  return self->vm ? tandem_vm_manager_lookup(self->manager, self->vm) : NULL;
}

/* Take: a running or paused VM with nothing under way; Restore and
 * Delete: nothing under way, and the VM not between two states. */
static void update_sensitivity(TandemSnapshotPanel *self) {
  TandemVm *vm = chosen_vm(self);
  TandemVmState state = vm ? tandem_vm_get_state(vm) : TANDEM_VM_STOPPED;
  gboolean busy = !vm || tandem_snapshot_manager_is_busy(self->snapshots,
                                                          self->vm);
  gboolean can_take =
      !busy && (state == TANDEM_VM_RUNNING || state == TANDEM_VM_PAUSED);

  gtk_widget_set_sensitive(self->take, can_take);
  gtk_widget_set_sensitive(GTK_WIDGET(self->name), can_take);
  gtk_widget_set_tooltip_text(
      self->take,
      vm && !busy && !can_take ? _("Start the VM to take a snapshot.") : NULL);
  gtk_widget_set_sensitive(GTK_WIDGET(self->list),
                           !busy && state != TANDEM_VM_STARTING &&
                               state != TANDEM_VM_STOPPING);
}

static gboolean on_idle_refresh(gpointer data) {
  TandemSnapshotPanel *self = data;

  self->idle_id = 0;
  update_sensitivity(self);
  return G_SOURCE_REMOVE;
}

/* --- Asking first ------------------------------------------------------------- */

typedef void (*SnapshotAction)(TandemSnapshotPanel *self, const char *id);

static void on_confirmed(GtkDialog *dialog, int response, gpointer data) {
  TandemSnapshotPanel *self = data;
  SnapshotAction action = g_object_get_data(G_OBJECT(dialog), "action");
  g_autofree char *id =
      g_strdup(g_object_get_data(G_OBJECT(dialog), "snapshot-id"));

  gtk_widget_destroy(GTK_WIDGET(dialog));
  if (response == GTK_RESPONSE_ACCEPT && self->snapshots) /* not disposed */
    action(self, id);
  g_object_unref(self);
}

static void confirm(TandemSnapshotPanel *self, const char *id,
                    const char *question, const char *detail,
                    const char *button, SnapshotAction action) {
  GtkWidget *toplevel = gtk_widget_get_toplevel(GTK_WIDGET(self));
  GtkWidget *dialog = gtk_message_dialog_new(
      GTK_IS_WINDOW(toplevel) ? GTK_WINDOW(toplevel) : NULL,
      GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
      GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE, "%s", question);
  GtkWidget *yes;

  gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(dialog), "%s",
                                           detail);
  gtk_dialog_add_button(GTK_DIALOG(dialog), _("_Cancel"),
                        GTK_RESPONSE_CANCEL);
  yes = gtk_dialog_add_button(GTK_DIALOG(dialog), button,
                              GTK_RESPONSE_ACCEPT);
  gtk_style_context_add_class(gtk_widget_get_style_context(yes),
                              "destructive-action");
  gtk_dialog_set_default_response(GTK_DIALOG(dialog), GTK_RESPONSE_CANCEL);
  g_object_set_data(G_OBJECT(dialog), "action", (gpointer)action);
  g_object_set_data_full(G_OBJECT(dialog), "snapshot-id", g_strdup(id),
                         g_free);
  g_signal_connect(dialog, "response", G_CALLBACK(on_confirmed),
                   g_object_ref(self));
  gtk_widget_show(dialog);
}

static void on_restore_clicked(GtkButton *button, gpointer data) {
  TandemSnapshotPanel *self = data;
  const char *id = g_object_get_data(G_OBJECT(button), "snapshot-id");
  const char *date = g_object_get_data(G_OBJECT(button), "snapshot-date");
  g_autofree char *question = g_strdup_printf(
      /* TRANSLATORS: a VM's name, then when the snapshot was taken. */
      _("Restore “%s” to its snapshot of %s?"), self->vm, date);

  confirm(self, id, question,
          _("What runs in the virtual machine now is ended and lost. Take a "
            "snapshot first to keep it."),
          _("_Restore"), tandem_snapshot_panel_restore);
}

static void on_delete_clicked(GtkButton *button, gpointer data) {
  TandemSnapshotPanel *self = data;
  const char *id = g_object_get_data(G_OBJECT(button), "snapshot-id");
  const char *date = g_object_get_data(G_OBJECT(button), "snapshot-date");
  g_autofree char *question =
      /* TRANSLATORS: %s is when the snapshot was taken. */
      g_strdup_printf(_("Delete the snapshot of %s?"), date);

  confirm(self, id, question,
          _("The virtual machine cannot come back to that moment after "
            "this."),
          _("_Delete"), tandem_snapshot_panel_delete);
}

/* --- The list ----------------------------------------------------------------- */

static GtkWidget *label_new(const char *text, gboolean dim) {
  GtkWidget *label = gtk_label_new(text);

  gtk_widget_set_halign(label, GTK_ALIGN_START);
  gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
  if (dim)
    gtk_style_context_add_class(gtk_widget_get_style_context(label),
                                "dim-label");
  return label;
}

static GtkWidget *row_button(TandemSnapshotPanel *self, const char *label,
                             const TandemSnapshotInfo *info, const char *date,
                             GCallback clicked) {
  GtkWidget *button = gtk_button_new_with_mnemonic(label);

  gtk_widget_set_valign(button, GTK_ALIGN_CENTER);
  g_object_set_data_full(G_OBJECT(button), "snapshot-id",
                         g_strdup(info->id), g_free);
  g_object_set_data_full(G_OBJECT(button), "snapshot-date", g_strdup(date),
                         g_free);
  g_signal_connect(button, "clicked", clicked, self);
  return button;
}

/* "2026-12-03 06:25:48" in bold; below, dim, "before the update · 22.9 MB
 * · taken in the background". */
static GtkWidget *row_new(TandemSnapshotPanel *self,
                          const TandemSnapshotInfo *info) {
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
  g_autofree char *date = format_date(info->created);
  g_autofree char *markup = g_markup_printf_escaped("<b>%s</b>", date);
  g_autofree char *size = g_format_size(info->file_bytes);
  g_autofree char *detail =
      info->name && *info->name
          ? g_strdup_printf("%s · %s · %s", info->name, size,
                            method_text(info->method))
          : g_strdup_printf("%s · %s", size, method_text(info->method));
  GtkWidget *title = label_new(NULL, FALSE);
  GtkWidget *row = gtk_list_box_row_new();

  gtk_label_set_markup(GTK_LABEL(title), markup);
  gtk_widget_set_hexpand(text, TRUE);
  gtk_container_add(GTK_CONTAINER(text), title);
  gtk_container_add(GTK_CONTAINER(text), label_new(detail, TRUE));
  gtk_widget_set_tooltip_text(
      text, info->method_reason && *info->method_reason ? info->method_reason
                                                        : info->id);
  g_object_set(box, "margin", 6, NULL);
  gtk_container_add(GTK_CONTAINER(box),
                    gtk_image_new_from_icon_name("document-open-recent-symbolic",
                                                 GTK_ICON_SIZE_BUTTON));
  gtk_container_add(GTK_CONTAINER(box), text);
  gtk_container_add(GTK_CONTAINER(box),
                    row_button(self, _("_Restore…"), info, date,
                               G_CALLBACK(on_restore_clicked)));
  gtk_container_add(GTK_CONTAINER(box),
                    row_button(self, _("_Delete…"), info, date,
                               G_CALLBACK(on_delete_clicked)));
  gtk_container_add(GTK_CONTAINER(row), box);
  g_object_set_data_full(G_OBJECT(row), "snapshot-id", g_strdup(info->id),
                         g_free);
  gtk_widget_show_all(row);
  return row;
}

/* --- The schedule ---------------------------------------------------------------- */

/* Turned on with one click: every hour, keeping what the configuration
 * says (10 unless set). */
#define ONE_CLICK_EVERY 3600

static void update_schedule(TandemSnapshotPanel *self) {
  TandemVm *vm = chosen_vm(self);
  const TandemVmConfig *c = vm ? tandem_vm_get_config(vm) : NULL;
  guint64 every = c ? c->snapshot_every : 0;
  guint keep = c && c->snapshot_keep ? c->snapshot_keep
                                     : TANDEM_VM_DEFAULT_SNAPSHOT_KEEP;
  g_autofree char *when =
      tandem_format_duration(every ? every : ONE_CLICK_EVERY);
  g_autofree char *text = NULL;

  g_signal_handler_block(self->schedule, self->schedule_id);
  gtk_switch_set_active(self->schedule, every > 0);
  g_signal_handler_unblock(self->schedule, self->schedule_id);
  gtk_widget_set_sensitive(GTK_WIDGET(self->schedule), vm != NULL);
  if (every)
    /* TRANSLATORS: "every 1h" / "every 30m"; then how many it keeps. */
    text = g_strdup_printf(ngettext("Scheduled snapshots: every %s while the "
                                    "VM runs, keeping the newest %u.",
                                    "Scheduled snapshots: every %s while the "
                                    "VM runs, keeping the newest %u.",
                                    keep),
                           when, keep);
  else
    text = g_strdup_printf(_("Scheduled snapshots are off. Turn them on to "
                             "take one every %s while the VM runs."),
                           when);
  gtk_label_set_text(self->schedule_label, text);
}

static void on_schedule_toggled(GObject *sw, GParamSpec *pspec,
                                gpointer data) {
  TandemSnapshotPanel *self = data;
  TandemVm *vm = chosen_vm(self);
  g_autoptr(GError) error = NULL;

  if (!vm)
    return;
  const TandemVmConfig *c = tandem_vm_get_config(vm);
  guint keep = c->snapshot_keep ? c->snapshot_keep
                                : TANDEM_VM_DEFAULT_SNAPSHOT_KEEP;
  guint64 every = gtk_switch_get_active(self->schedule) ? ONE_CLICK_EVERY : 0;
  if (!tandem_snapshot_manager_set_schedule(self->snapshots, self->vm, every,
                                            keep, c->snapshot_max_age,
                                            &error))
    set_status(self, error->message);
  update_schedule(self);
}

gboolean tandem_snapshot_panel_get_scheduled(TandemSnapshotPanel *self) {
  return gtk_switch_get_active(self->schedule);
}

void tandem_snapshot_panel_set_scheduled(TandemSnapshotPanel *self,
                                         gboolean on) {
  gtk_switch_set_active(self->schedule, on);
}

const char *tandem_snapshot_panel_get_schedule_text(
    TandemSnapshotPanel *self) {
  return gtk_label_get_text(self->schedule_label);
}

/* The chosen VM's snapshots, newest first. */
static void refill(TandemSnapshotPanel *self) {
  g_autoptr(GList) rows =
      gtk_container_get_children(GTK_CONTAINER(self->list));
  g_autoptr(GPtrArray) snapshots = NULL;
  g_autoptr(GError) error = NULL;

  for (GList *l = rows; l; l = l->next)
    gtk_widget_destroy(l->data);
  if (chosen_vm(self))
    snapshots = tandem_snapshot_manager_list(self->snapshots, self->vm,
                                             &error);
  for (guint i = snapshots ? snapshots->len : 0; i > 0; i--)
    gtk_list_box_insert(self->list, row_new(self, snapshots->pdata[i - 1]),
                        -1);

  if (!self->vm || !chosen_vm(self))
    gtk_label_set_text(self->empty,
                       self->vm ? _("This guest runs without a VM: it has no "
                                    "snapshots.")
                                : _("No VM chosen."));
  else if (!snapshots)
    gtk_label_set_text(self->empty, error->message);
  else
    gtk_label_set_text(self->empty,
                       _("No snapshots yet. Take one to be able to come back "
                         "to this moment later."));
  gtk_widget_set_visible(GTK_WIDGET(self->empty),
                         !snapshots || snapshots->len == 0);
  update_sensitivity(self);
  update_schedule(self);
}

/* --- Progress, whoever asked -------------------------------------------------- */

static void on_progress(TandemSnapshotManager *snapshots,
                        const TandemSnapshotProgress *progress,
                        TandemSnapshotPanel *self) {
  const char *phase = phase_text(progress->phase);
  g_autofree char *text = NULL;

  if (g_strcmp0(progress->vm, self->vm) != 0)
    return;
  if (!phase) {
    gtk_widget_hide(GTK_WIDGET(self->progress));
    /* The manager lets go of the VM right after it says so. */
    if (!self->idle_id)
      self->idle_id = g_idle_add(on_idle_refresh, self);
    return;
  }
  if (progress->phase == TANDEM_SNAPSHOT_PHASE_SAVING &&
      progress->total_bytes > 0) {
    double fraction =
        MIN((double)progress->done_bytes / (double)progress->total_bytes, 1);
    gtk_progress_bar_set_fraction(self->progress, fraction);
    /* TRANSLATORS: a phase ("Saving memory"), then how far it got. */
    text = g_strdup_printf(_("%s… %d %%"), phase, (int)(fraction * 100));
  } else {
    gtk_progress_bar_pulse(self->progress);
    text = g_strdup_printf("%s…", phase);
  }
  gtk_progress_bar_set_text(self->progress, text);
  gtk_widget_show(GTK_WIDGET(self->progress));
  set_status(self, NULL);
  update_sensitivity(self);
}

static void on_changed(TandemSnapshotManager *snapshots, const char *vm,
                       TandemSnapshotPanel *self) {
  if (g_strcmp0(vm, self->vm) == 0)
    refill(self);
}

static void on_vm_state_changed(TandemVmManager *manager, TandemVm *vm,
                                int old_state, int new_state,
                                TandemSnapshotPanel *self) {
  if (g_strcmp0(tandem_vm_get_name(vm), self->vm) == 0)
    update_sensitivity(self);
}

/* --- The actions ---------------------------------------------------------------- */

static void show_failure(TandemSnapshotPanel *self, const GError *error) {
  gtk_widget_hide(GTK_WIDGET(self->progress));
  set_status(self, error->message);
  update_sensitivity(self);
}

static void on_taken(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(TandemSnapshotPanel) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info = tandem_snapshot_manager_create_finish(
      TANDEM_SNAPSHOT_MANAGER(source), result, &error);

  if (!self->snapshots) /* disposed meanwhile: nothing to show it in */
    return;
  if (!info) {
    show_failure(self, error);
    return;
  }
  gtk_entry_set_text(self->name, "");
}

void tandem_snapshot_panel_take(TandemSnapshotPanel *self) {
  const char *name = gtk_entry_get_text(self->name);

  g_return_if_fail(TANDEM_IS_SNAPSHOT_PANEL(self));
  if (!self->vm)
    return;
  if (!tandem_snapshot_name_is_valid(name)) {
    g_autofree char *text = g_strdup_printf(
        _("A snapshot's name must be a single line of at most %d "
          "characters."),
        TANDEM_SNAPSHOT_MAX_NAME);
    set_status(self, text);
    return;
  }
  set_status(self, NULL);
  tandem_snapshot_manager_create_async(self->snapshots, self->vm, name, NULL,
                                       on_taken, g_object_ref(self));
  update_sensitivity(self);
}

static void on_restored(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(TandemSnapshotPanel) self = data;
  g_autoptr(GError) error = NULL;

  if (!tandem_snapshot_manager_restore_finish(TANDEM_SNAPSHOT_MANAGER(source),
                                              result, &error) &&
      self->snapshots) /* not disposed meanwhile */
    show_failure(self, error);
}

void tandem_snapshot_panel_restore(TandemSnapshotPanel *self,
                                   const char *id) {
  g_return_if_fail(TANDEM_IS_SNAPSHOT_PANEL(self));
  if (!self->vm)
    return;
  set_status(self, NULL);
  tandem_snapshot_manager_restore_async(self->snapshots, self->vm, id, NULL,
                                        on_restored, g_object_ref(self));
  update_sensitivity(self);
}

void tandem_snapshot_panel_delete(TandemSnapshotPanel *self, const char *id) {
  g_autoptr(GError) error = NULL;

  g_return_if_fail(TANDEM_IS_SNAPSHOT_PANEL(self));
  if (!self->vm)
    return;
  set_status(self, NULL);
  /* "changed" refills the list. */
  if (!tandem_snapshot_manager_delete(self->snapshots, self->vm, id, &error))
    show_failure(self, error);
}

static void on_take_clicked(GtkWidget *widget, gpointer data) {
  tandem_snapshot_panel_take(data);
}

/* --- For tests ------------------------------------------------------------------- */

GStrv tandem_snapshot_panel_get_ids(TandemSnapshotPanel *self) {
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new();
  g_autoptr(GList) rows =
      gtk_container_get_children(GTK_CONTAINER(self->list));

  for (GList *l = rows; l; l = l->next)
    g_strv_builder_add(ids, g_object_get_data(l->data, "snapshot-id"));
  return g_strv_builder_end(ids);
}

const char *tandem_snapshot_panel_get_status(TandemSnapshotPanel *self) {
  if (gtk_widget_get_visible(GTK_WIDGET(self->progress)))
    return gtk_progress_bar_get_text(self->progress);
  return gtk_label_get_text(self->status);
}

gboolean tandem_snapshot_panel_can_take(TandemSnapshotPanel *self) {
  return gtk_widget_get_sensitive(self->take);
}

void tandem_snapshot_panel_set_name(TandemSnapshotPanel *self,
                                    const char *name) {
  gtk_entry_set_text(self->name, name);
}

/* --- Life ------------------------------------------------------------------------- */

void tandem_snapshot_panel_set_vm(TandemSnapshotPanel *self, const char *vm) {
  g_return_if_fail(TANDEM_IS_SNAPSHOT_PANEL(self));

  if (g_strcmp0(self->vm, vm) != 0) {
    g_free(self->vm);
    self->vm = g_strdup(vm);
    set_status(self, NULL);
    gtk_widget_hide(GTK_WIDGET(self->progress));
  }
  refill(self);
}

static void build(TandemSnapshotPanel *self) {
  GtkWidget *bar = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *scroll = gtk_scrolled_window_new(NULL, NULL);

  self->name = GTK_ENTRY(gtk_entry_new());
  gtk_entry_set_max_length(self->name, TANDEM_SNAPSHOT_MAX_NAME);
  gtk_entry_set_placeholder_text(self->name,
                                 _("Name of the new snapshot (optional)"));
  gtk_widget_set_hexpand(GTK_WIDGET(self->name), TRUE);
  g_signal_connect(self->name, "activate", G_CALLBACK(on_take_clicked), self);
  self->take = gtk_button_new_with_mnemonic(_("_Take Snapshot"));
  gtk_style_context_add_class(gtk_widget_get_style_context(self->take),
                              "suggested-action");
  g_signal_connect(self->take, "clicked", G_CALLBACK(on_take_clicked), self);
  gtk_box_pack_start(GTK_BOX(bar), GTK_WIDGET(self->name), TRUE, TRUE, 0);
  gtk_box_pack_start(GTK_BOX(bar), self->take, FALSE, FALSE, 0);

  GtkWidget *sched = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
  self->schedule = GTK_SWITCH(gtk_switch_new());
  g_object_set_data(G_OBJECT(self), "schedule-switch", self->schedule);
  gtk_widget_set_valign(GTK_WIDGET(self->schedule), GTK_ALIGN_CENTER);
  self->schedule_label = GTK_LABEL(label_new(NULL, FALSE));
  gtk_label_set_line_wrap(self->schedule_label, TRUE);
  gtk_label_set_ellipsize(self->schedule_label, PANGO_ELLIPSIZE_NONE);
  gtk_label_set_mnemonic_widget(self->schedule_label,
                                GTK_WIDGET(self->schedule));
  self->schedule_id = g_signal_connect(self->schedule, "notify::active",
                                       G_CALLBACK(on_schedule_toggled), self);
  gtk_box_pack_start(GTK_BOX(sched), GTK_WIDGET(self->schedule), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(sched), GTK_WIDGET(self->schedule_label), TRUE,
                     TRUE, 0);

  self->progress = GTK_PROGRESS_BAR(gtk_progress_bar_new());
  gtk_progress_bar_set_show_text(self->progress, TRUE);
  gtk_progress_bar_set_pulse_step(self->progress, 0.1);
  self->status = GTK_LABEL(label_new(NULL, FALSE));
  gtk_label_set_line_wrap(self->status, TRUE);
  gtk_label_set_ellipsize(self->status, PANGO_ELLIPSIZE_NONE);
  gtk_label_set_selectable(self->status, TRUE);
  self->list = GTK_LIST_BOX(gtk_list_box_new());
  gtk_list_box_set_selection_mode(self->list, GTK_SELECTION_NONE);
  self->empty = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_line_wrap(self->empty, TRUE);
  gtk_style_context_add_class(
      gtk_widget_get_style_context(GTK_WIDGET(self->empty)), "dim-label");
  gtk_container_add(GTK_CONTAINER(scroll), GTK_WIDGET(self->list));
  gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroll),
                                 GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand(scroll, TRUE);

  gtk_box_pack_start(GTK_BOX(self), bar, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), sched, FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), GTK_WIDGET(self->progress), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(self), GTK_WIDGET(self->status), FALSE, FALSE,
                     0);
  gtk_box_pack_start(GTK_BOX(self), GTK_WIDGET(self->empty), FALSE, FALSE, 0);
  gtk_box_pack_start(GTK_BOX(self), scroll, TRUE, TRUE, 0);
  gtk_container_set_border_width(GTK_CONTAINER(self), 6);
  gtk_widget_show_all(GTK_WIDGET(self));
  gtk_widget_hide(GTK_WIDGET(self->progress));
  gtk_widget_hide(GTK_WIDGET(self->status));
}

GtkWidget *tandem_snapshot_panel_new(TandemSnapshotManager *snapshots,
                                     TandemVmManager *manager) {
  TandemSnapshotPanel *self;

  g_return_val_if_fail(TANDEM_IS_SNAPSHOT_MANAGER(snapshots), NULL);
  g_return_val_if_fail(TANDEM_IS_VM_MANAGER(manager), NULL);
  self = g_object_new(TANDEM_TYPE_SNAPSHOT_PANEL, "orientation",
                      GTK_ORIENTATION_VERTICAL, "spacing", 6, NULL);
  self->snapshots = g_object_ref(snapshots);
  self->manager = g_object_ref(manager);
  build(self);
  g_signal_connect(snapshots, "progress", G_CALLBACK(on_progress), self);
  g_signal_connect(snapshots, "changed", G_CALLBACK(on_changed), self);
  g_signal_connect(manager, "vm-state-changed",
                   G_CALLBACK(on_vm_state_changed), self);
  refill(self);
  return GTK_WIDGET(self);
}

static void tandem_snapshot_panel_dispose(GObject *object) {
  TandemSnapshotPanel *self = TANDEM_SNAPSHOT_PANEL(object);

  g_clear_handle_id(&self->idle_id, g_source_remove);
  if (self->snapshots) {
    g_signal_handlers_disconnect_by_data(self->snapshots, self);
    g_clear_object(&self->snapshots);
  }
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
  G_OBJECT_CLASS(tandem_snapshot_panel_parent_class)->dispose(object);
}

static void tandem_snapshot_panel_finalize(GObject *object) {
  g_free(TANDEM_SNAPSHOT_PANEL(object)->vm);
  G_OBJECT_CLASS(tandem_snapshot_panel_parent_class)->finalize(object);
}

static void tandem_snapshot_panel_class_init(TandemSnapshotPanelClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = tandem_snapshot_panel_dispose;
  G_OBJECT_CLASS(klass)->finalize = tandem_snapshot_panel_finalize;
}

static void tandem_snapshot_panel_init(TandemSnapshotPanel *self) {}
