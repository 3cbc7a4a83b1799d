#include "config.h"

#include "tandem-window.h"

#include "tandem-i18n.h"
#include "tandem-vm-list.h"

struct _TandemWindow {
  GtkApplicationWindow parent_instance;

  char *config_dir;
  guint vm_count;

  GtkStack *stack;
  GtkListBox *vm_list;
  GtkLabel *error_label;
};

G_DEFINE_TYPE(TandemWindow, tandem_window, GTK_TYPE_APPLICATION_WINDOW)

enum { PROP_0, PROP_CONFIG_DIR, N_PROPS };
static GParamSpec *props[N_PROPS];

static GtkWidget *vm_row_new(const char *name) {
  GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *icon = gtk_image_new_from_icon_name("computer-symbolic",
                                                 GTK_ICON_SIZE_DND);
  GtkWidget *label = gtk_label_new(name);
  /* TRANSLATORS: the state of a VM that is not running. */
  GtkWidget *state = gtk_label_new(_("Stopped"));

  gtk_widget_set_halign(label, GTK_ALIGN_START);
  gtk_widget_set_hexpand(label, TRUE);
  gtk_style_context_add_class(gtk_widget_get_style_context(state),
                              "dim-label");
  g_object_set(box, "margin", 12, NULL);
  gtk_container_add(GTK_CONTAINER(box), icon);
  gtk_container_add(GTK_CONTAINER(box), label);
  gtk_container_add(GTK_CONTAINER(box), state);
  gtk_widget_show_all(box);
  return box;
}

void tandem_window_reload(TandemWindow *self) {
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = tandem_vm_list_names(self->config_dir, &error);
  g_autoptr(GList) rows =
      gtk_container_get_children(GTK_CONTAINER(self->vm_list));

  for (GList *l = rows; l; l = l->next)
    gtk_widget_destroy(l->data);
  self->vm_count = 0;

  if (!names) {
    g_autofree char *text = g_strdup_printf(
        _("Could not read the VM configurations in %s: %s"), self->config_dir,
        error->message);
    gtk_label_set_text(self->error_label, text);
    gtk_stack_set_visible_child_name(self->stack, "error");
    return;
  }
  for (char **n = names; *n; n++) {
    gtk_list_box_insert(self->vm_list, vm_row_new(*n), -1);
    self->vm_count++;
  }
  gtk_stack_set_visible_child_name(self->stack,
                                   self->vm_count ? "list" : "empty");
}

guint tandem_window_get_vm_count(TandemWindow *self) {
  g_return_val_if_fail(TANDEM_IS_WINDOW(self), 0);
  return self->vm_count;
}

gboolean tandem_window_is_empty_state(TandemWindow *self) {
  g_return_val_if_fail(TANDEM_IS_WINDOW(self), FALSE);
  return g_strcmp0(gtk_stack_get_visible_child_name(self->stack), "empty") ==
         0;
}

static void tandem_window_constructed(GObject *object) {
  TandemWindow *self = TANDEM_WINDOW(object);

  G_OBJECT_CLASS(tandem_window_parent_class)->constructed(object);
  if (!self->config_dir)
    self->config_dir = tandem_vm_config_dir();
  tandem_window_reload(self);
}

static void tandem_window_set_property(GObject *object, guint id,
                                       const GValue *value, GParamSpec *pspec) {
  TandemWindow *self = TANDEM_WINDOW(object);

  switch (id) {
  case PROP_CONFIG_DIR:
    g_free(self->config_dir);
    self->config_dir = g_value_dup_string(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void tandem_window_finalize(GObject *object) {
  TandemWindow *self = TANDEM_WINDOW(object);

  g_free(self->config_dir);
  G_OBJECT_CLASS(tandem_window_parent_class)->finalize(object);
}

static void tandem_window_class_init(TandemWindowClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

  object_class->constructed = tandem_window_constructed;
  object_class->set_property = tandem_window_set_property;
  object_class->finalize = tandem_window_finalize;

  props[PROP_CONFIG_DIR] = g_param_spec_string(
      "config-dir", NULL, NULL, NULL,
      G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);

  gtk_widget_class_set_template_from_resource(
      widget_class, "/org/tandem/Tandem/tandem-window.ui");
  gtk_widget_class_bind_template_child(widget_class, TandemWindow, stack);
  gtk_widget_class_bind_template_child(widget_class, TandemWindow, vm_list);
  gtk_widget_class_bind_template_child(widget_class, TandemWindow,
                                       error_label);
}

static void tandem_window_init(TandemWindow *self) {
  gtk_widget_init_template(GTK_WIDGET(self));
}

TandemWindow *tandem_window_new(GtkApplication *app, const char *config_dir) {
  return g_object_new(TANDEM_TYPE_WINDOW, "application", app, "config-dir",
                      config_dir, NULL);
}
