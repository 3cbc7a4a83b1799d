/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Two exports as one disk (tandem-disk-manager.h): a quorum node over two
 * NBD or iSCSI nodes, vote threshold 1, reads from the first that answers.
 *
 * A server lost: QEMU holds the guest's requests for the reconnect delay,
 * then the child fails them and the quorum goes on with the other child,
 * reporting QUORUM_REPORT_BAD with an error. The attachment becomes
 * degraded, the failed child leaves the quorum (so that no later request
 * waits for it) and its node is removed. Every RETRY_MS the node is added
 * again: while the server is away that fails at once. Once it is back, the
 * quorum is mirrored onto it (every block, then every guest write to both),
 * and when the two are the same the guest is paused for the moment it
 * takes to end the copy and add the child back to the quorum (field notes:
 * a child merely re-added never gets the writes it missed).
 *
 * Each step is a callback holding a reference to the mirror; a mirror whose
 * attachment is gone (tdm_mirror_free) stops at the next step. */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "tandem-disk-private.h"
#include "tandem-qmp-mirror.h"

/* How often a lost server is tried again. A try on a server that is not
 * there fails at once (refused), and holds QEMU's monitor only that long. */
#define RETRY_MS 3000

struct _TdmMirror {
  gint refs;
  Attachment *a;          /* NULL once the attachment is gone */
  TandemDiskManager *mgr; /* not owned: it owns the attachment */
  TandemQmpClient *qmp;   /* while watching */
  gulong event_id;
  char *uri[2];
  char *child_node[2];
  char *child_name[2];    /* its name in the quorum; NULL while out */
  guint next_index;       /* QEMU's next "children.N" */
  int out;                /* the child out of the quorum, or -1 */
  gboolean added;         /* its node is there again */
  char *job;              /* the mirror job's id while it copies */
  gboolean ready, was_running;
  gint64 paused_at;       /* when the guest was paused for the switch */
  guint retry_id;
  gboolean read_only;
  gboolean held;          /* a detach is under way: no new tries */
  gboolean may_degrade;   /* one server may be missing when it is added */
  gint64 down_since[2];   /* QEMU not connected to it since (the watch) */
};

static TdmMirror *mirror_ref(TdmMirror *m) {
  g_atomic_int_inc(&m->refs);
  return m;
}

static void mirror_unref(TdmMirror *m) {
  if (!g_atomic_int_dec_and_test(&m->refs))
    return;
  if (m->event_id)
    g_signal_handler_disconnect(m->qmp, m->event_id);
  g_clear_object(&m->qmp);
  for (int i = 0; i < 2; i++) {
    g_free(m->uri[i]);
    g_free(m->child_node[i]);
    g_free(m->child_name[i]);
  }
  g_free(m->job);
  g_free(m);
}

TdmMirror *tdm_mirror_new(Attachment *a) {
  TdmMirror *m = g_new0(TdmMirror, 1);
  m->refs = 1;
  m->a = a;
  m->out = -1;
  m->uri[0] = g_strdup(a->info.uri);
  m->uri[1] = g_strdup(a->info.mirror);
  for (int i = 0; i < 2; i++)
    m->child_node[i] = g_strdup_printf("%s-%d", a->node, i);
  return m;
}

void tdm_mirror_free(TdmMirror *m) {
  if (!m)
    return;
  m->a = NULL;
  g_clear_handle_id(&m->retry_id, g_source_remove);
  if (m->event_id)
    g_clear_signal_handler(&m->event_id, m->qmp);
  mirror_unref(m);
}

gboolean tdm_mirror_busy(const TdmMirror *m) { return m && m->job; }


/* --- Adding the nodes ------------------------------------------------------- */

typedef struct {
  TdmMirror *m;
  TandemQmpClient *qmp;
  gboolean read_only;
  int step;    /* 0, 1: the children; 2: the quorum */
  int missing; /* the child that could not be added (may_degrade), or -1 */
} AddNodes;

static void add_nodes_free(gpointer data) {
  AddNodes *n = data;
  mirror_unref(n->m);
  g_object_unref(n->qmp);
  g_free(n);
}

static void ignore_reply(GObject *source, GAsyncResult *res, gpointer data) {
  g_autoptr(GError) ignored = NULL;
  tandem_qmp_blockdev_del_finish(TANDEM_QMP_CLIENT(source), res, &ignored);
}

static void add_step(GTask *task);

static void on_add_step(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  AddNodes *n = g_task_get_task_data(task);
  GError *error = NULL;
  if (!tandem_qmp_blockdev_add_finish(TANDEM_QMP_CLIENT(source), res,
                                      &error)) {
    if (n->step < 2 && n->m->may_degrade && n->missing < 0) {
      /* At a start or a restore the disk comes up on one server, degraded,
       * and the other is brought up to date once it is there. */
      g_message("mirror %s: %s is not there: going on without it (%s)",
                n->m->child_node[n->step], n->m->uri[n->step],
                error->message);
      n->missing = n->step++;
      g_error_free(error);
      add_step(task);
      return;
    }
    /* What was added goes again: nothing is left behind. */
    for (int i = 0; i < n->step && i < 2; i++)
      if (i != n->missing)
        tandem_qmp_blockdev_del_async(n->qmp, n->m->child_node[i], NULL,
                                      ignore_reply, NULL);
    /* Said with the address it is about (the quorum's: the first). */
    g_autoptr(TandemStorageUri) u =
        tandem_storage_uri_parse(n->m->uri[n->step == 1], NULL);
    g_task_return_error(task, u ? tdm_explain_add_error(u, error)
                                : g_error_copy(error));
    g_error_free(error);
    g_object_unref(task);
    return;
  }
  n->step++;
  add_step(task);
}

static void add_step(GTask *task) {
  AddNodes *n = g_task_get_task_data(task);
  TdmMirror *m = n->m;
  if (n->step < 2) {
    g_autoptr(TandemStorageUri) u =
        tandem_storage_uri_parse(m->uri[n->step], NULL);
    if (!u) {
      g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                              _("“%s” is not an address of a network disk"),
                              m->uri[n->step]);
      g_object_unref(task);
      return;
    }
    tdm_add_one_node(n->qmp, m->child_node[n->step], u, n->read_only,
                     OPEN_TIMEOUT_S, on_add_step, task);
    return;
  }
  if (n->step == 2) {
    const char *children[3] = {NULL};
    for (int i = 0, k = 0; i < 2; i++)
      if (i != n->missing)
        children[k++] = m->child_node[i];
    tandem_qmp_blockdev_add_quorum_async(n->qmp, m->a->node, children,
                                         n->read_only, NULL, on_add_step,
                                         task);
    return;
  }
  m->next_index = 0;
  for (int i = 0; i < 2; i++) {
    g_clear_pointer(&m->child_name[i], g_free);
    if (i != n->missing)
      m->child_name[i] = g_strdup_printf("children.%u", m->next_index++);
  }
  m->out = n->missing;
  m->added = FALSE;
  m->read_only = n->read_only;
  g_task_return_boolean(task, TRUE);
  g_object_unref(task);
}

void tdm_mirror_add_nodes(TdmMirror *m, TandemQmpClient *qmp,
                          gboolean read_only, GTask *task) {
  AddNodes *n = g_new0(AddNodes, 1);
  n->missing = -1;
  n->m = mirror_ref(m);
  n->qmp = g_object_ref(qmp);
  n->read_only = read_only;
  g_task_set_task_data(task, n, add_nodes_free);
  add_step(task);
}

void tdm_mirror_remove_children(TdmMirror *m, TandemQmpClient *qmp) {
  for (int i = 0; m && i < 2; i++)
    if (m->child_name[i] || (i == m->out && m->added))
      tandem_qmp_blockdev_del_async(qmp, m->child_node[i], NULL,
                                    ignore_reply, NULL);
}

/* --- Losing a child, and resynchronising it ------------------------------- */

static void set_state(TdmMirror *m, TandemDiskState state,
                      const char *message) {
  Attachment *a = m->a;
  if (!a)
    return;
  a->info.state = state;
  g_free(a->info.message);
  a->info.message = g_strdup(message ? message : "");
  tdm_changed(m->mgr, a->info.vm);
}

/* Why the disk is degraded, for the user: m->out is the server lost. */
static char *degraded_message(const TdmMirror *m) {
  return g_strdup_printf(
      _("The server of %s is unreachable: the disk goes on with %s alone, "
        "and is brought up to date when that server is back."),
      m->uri[m->out], m->uri[!m->out]);
}

static void retry_later(TdmMirror *m);
static void try_child(TdmMirror *m);

static gboolean on_retry(gpointer data) {
  TdmMirror *m = data;
  m->retry_id = 0;
  if (m->a)
    try_child(m);
  return G_SOURCE_REMOVE;
}

static void retry_later(TdmMirror *m) {
  if (m->a && !m->retry_id && !m->held)
    m->retry_id = g_timeout_add_full(G_PRIORITY_DEFAULT, RETRY_MS, on_retry,
                                     mirror_ref(m),
                                     (GDestroyNotify)mirror_unref);
}

static void on_child_deleted(GObject *source, GAsyncResult *res,
                             gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_blockdev_del_finish(TANDEM_QMP_CLIENT(source), res, &error))
    g_warning("mirror child %s could not be removed: %s",
              m->child_node[m->out], error->message);
  m->added = FALSE;
  retry_later(m);
  mirror_unref(m);
}

static void on_child_removed(GObject *source, GAsyncResult *res,
                             gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_blockdev_change_finish(TANDEM_QMP_CLIENT(source), res,
                                         &error)) {
    g_warning("mirror child %s could not leave the quorum: %s",
              m->child_node[m->out], error->message);
    mirror_unref(m);
    return;
  }
  /* QEMU gives back the last index when the last child leaves. */
  g_autofree char *last = g_strdup_printf("children.%u", m->next_index - 1);
  if (!g_strcmp0(m->child_name[m->out], last))
    m->next_index--;
  g_clear_pointer(&m->child_name[m->out], g_free);
  tandem_qmp_blockdev_del_async(m->qmp, m->child_node[m->out], NULL,
                                on_child_deleted, m);
}

static void degrade(TdmMirror *m, int lost) {
  m->out = lost;
  g_autofree char *message = degraded_message(m);
  g_message("VM %s: network disk %s: %s", m->a->info.vm, m->a->info.name,
            message);
  set_state(m, TANDEM_DISK_DEGRADED, message);
  tandem_qmp_blockdev_change_async(m->qmp, m->a->node, m->child_name[lost],
                                   NULL, NULL, on_child_removed,
                                   mirror_ref(m));
}

static void resync_failed(TdmMirror *m, const char *why);

static void on_resumed(GObject *source, GAsyncResult *res, gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_cont_finish(TANDEM_QMP_CLIENT(source), res, &error))
    g_warning("the guest could not go on after a mirror was resynchronised: "
              "%s", error->message);
  mirror_unref(m);
}

static void resume_guest(TdmMirror *m) {
  if (m->was_running)
    tandem_qmp_cont_async(m->qmp, NULL, on_resumed, mirror_ref(m));
  m->was_running = FALSE;
}

static void on_child_back(GObject *source, GAsyncResult *res, gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  gboolean ok =
      tandem_qmp_blockdev_change_finish(TANDEM_QMP_CLIENT(source), res, &error);
  gint64 paused_ms =
      m->was_running ? (g_get_monotonic_time() - m->paused_at) / 1000 : 0;
  resume_guest(m);
  if (!ok) {
    resync_failed(m, error->message);
  } else {
    int back = m->out;
    m->down_since[back] = 0;
    m->child_name[back] = g_strdup_printf("children.%u", m->next_index++);
    m->out = -1;
    m->added = FALSE;
    if (m->a)
      g_message("VM %s: network disk %s: %s is up to date again (mirror "
                "switched back, the guest paused %" G_GINT64_FORMAT " ms)",
                m->a->info.vm, m->a->info.name, m->uri[back], paused_ms);
    set_state(m, TANDEM_DISK_ATTACHED, NULL);
  }
  mirror_unref(m);
}

/* The copy ended (BLOCK_JOB_COMPLETED or _CANCELLED). */
static void copy_ended(TdmMirror *m, gboolean completed, const char *error) {
  g_clear_pointer(&m->job, g_free);
  if (!completed || error || !m->ready) {
    resume_guest(m);
    resync_failed(m, error ? error : "the copy was cancelled");
    return;
  }
  m->ready = FALSE;
  if (!m->a) {
    resume_guest(m);
    return;
  }
  tandem_qmp_blockdev_change_async(m->qmp, m->a->node, NULL,
                                   m->child_node[m->out], NULL, on_child_back,
                                   mirror_ref(m));
}

static void on_job_cancel(GObject *source, GAsyncResult *res, gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_block_job_cancel_finish(TANDEM_QMP_CLIENT(source), res,
                                          &error) && m->job)
    /* It ended by itself meanwhile: its event says how. */
    g_debug("block-job-cancel: %s", error->message);
  mirror_unref(m);
}

static void on_paused(GObject *source, GAsyncResult *res, gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_stop_finish(TANDEM_QMP_CLIENT(source), res, &error))
    m->was_running = FALSE;
  m->paused_at = g_get_monotonic_time();
  /* The guest writes nothing now: the two are the same when the job
   * ends. */
  if (m->job)
    tandem_qmp_block_job_cancel_async(m->qmp, m->job, NULL, on_job_cancel,
                                      mirror_ref(m));
  mirror_unref(m);
}

static void on_status_for_pause(GObject *source, GAsyncResult *res,
                                gpointer data) {
  TdmMirror *m = data;
  g_autoptr(TandemQmpStatusInfo) s =
      tandem_qmp_query_status_finish(TANDEM_QMP_CLIENT(source), res, NULL);
  m->was_running = s && s->running;
  if (m->was_running)
    tandem_qmp_stop_async(m->qmp, NULL, on_paused, mirror_ref(m));
  else if (m->job)
    tandem_qmp_block_job_cancel_async(m->qmp, m->job, NULL, on_job_cancel,
                                      mirror_ref(m));
  mirror_unref(m);
}

static void copy_ready(TdmMirror *m) {
  m->ready = TRUE;
  tandem_qmp_query_status_async(m->qmp, NULL, on_status_for_pause,
                                mirror_ref(m));
}

static void on_copy_started(GObject *source, GAsyncResult *res,
                            gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_blockdev_mirror_finish(TANDEM_QMP_CLIENT(source), res,
                                         &error)) {
    g_clear_pointer(&m->job, g_free);
    resync_failed(m, error->message);
  }
  mirror_unref(m);
}

static void on_child_added(GObject *source, GAsyncResult *res,
                           gpointer data) {
  TdmMirror *m = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_blockdev_add_finish(TANDEM_QMP_CLIENT(source), res,
                                      &error)) {
    retry_later(m); /* still away */
    mirror_unref(m);
    return;
  }
  m->added = TRUE;
  if (!m->a) {
    mirror_unref(m);
    return;
  }
  g_autofree char *message = g_strdup_printf(
      _("The server of %s is back: bringing it up to date."), m->uri[m->out]);
  set_state(m, TANDEM_DISK_DEGRADED, message);
  m->job = g_strdup_printf("%s-sync", m->a->node);
  m->ready = FALSE;
  tandem_qmp_blockdev_mirror_async(m->qmp, m->job, m->a->node,
                                   m->child_node[m->out], NULL,
                                   on_copy_started, mirror_ref(m));
  mirror_unref(m);
}

static void try_child(TdmMirror *m) {
  g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(m->uri[m->out],
                                                           NULL);
  if (!u || m->out < 0 || !tandem_qmp_client_is_connected(m->qmp))
    return;
  /* No open-timeout: a refused connection fails at once, and a try that
   * waited would hold QEMU's monitor every RETRY_MS. */
  tdm_add_one_node(m->qmp, m->child_node[m->out], u, m->read_only, 0,
                   on_child_added, mirror_ref(m));
}

/* The child came back but could not be brought up to date: its node goes
 * and it is tried again later. */
static void resync_failed(TdmMirror *m, const char *why) {
  if (m->a)
    g_warning("VM %s: network disk %s: %s could not be brought up to date: "
              "%s", m->a->info.vm, m->a->info.name, m->uri[m->out], why);
  if (m->added)
    tandem_qmp_blockdev_del_async(m->qmp, m->child_node[m->out], NULL,
                                  on_child_deleted, mirror_ref(m));
  else
    retry_later(m);
}

void tdm_mirror_allow_degraded(TdmMirror *m) { m->may_degrade = TRUE; }

TandemDiskState tdm_mirror_settle(TdmMirror *m) {
  if (!m || m->out < 0 || m->added || m->job)
    return TANDEM_DISK_ATTACHED;
  g_free(m->a->info.message);
  m->a->info.message = degraded_message(m);
  retry_later(m);
  return TANDEM_DISK_DEGRADED;
}

void tdm_mirror_hold(TdmMirror *m, gboolean hold) {
  if (!m)
    return;
  m->held = hold;
  if (hold)
    g_clear_handle_id(&m->retry_id, g_source_remove);
  else if (m->out >= 0 && !m->added && !m->job)
    retry_later(m);
}

/* --- The watch's turn ------------------------------------------------------ */

gboolean tdm_mirror_check(TdmMirror *m, const TandemDiskProbe *probe,
                          gint64 now) {
  Attachment *a = m->a;
  if (!a || m->job || !m->qmp)
    return FALSE;
  gint64 delay = (gint64)TANDEM_DISK_RECONNECT_DELAY * G_USEC_PER_SEC;
  gboolean lost[2];
  for (int k = 0; k < 2; k++) {
    g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(m->uri[k], NULL);
    gboolean down = u && tandem_disk_probe_check(probe, u) ==
                             TANDEM_DISK_PROBE_NOT_CONNECTED;
    if (!down)
      m->down_since[k] = 0;
    else if (!m->down_since[k])
      m->down_since[k] = now;
    lost[k] = down && now - m->down_since[k] > delay;
  }
  if (m->out < 0) {
    /* Found even when the guest is not using the disk, which is the only
     * time QEMU says it (QUORUM_REPORT_BAD). */
    for (int k = 0; k < 2; k++)
      if (lost[k] && m->child_name[k]) {
        degrade(m, k);
        break;
      }
    return FALSE;
  }
  int alone = !m->out;
  if (lost[alone] && a->info.state != TANDEM_DISK_FAILED) {
    g_autofree char *message = g_strdup_printf(
        _("Neither server of this mirrored disk answers (%s, %s): the "
          "guest's reads and writes on it fail until one is back."),
        m->uri[0], m->uri[1]);
    g_message("VM %s: network disk %s: %s", a->info.vm, a->info.name,
              message);
    set_state(m, TANDEM_DISK_FAILED, message);
  } else if (!lost[alone] && m->down_since[alone] == 0 &&
             a->info.state == TANDEM_DISK_FAILED) {
    g_autofree char *message = degraded_message(m);
    set_state(m, TANDEM_DISK_DEGRADED, message);
  }
  return FALSE;
}

/* --- QEMU's events ------------------------------------------------------- */

static void on_event(TandemQmpClient *qmp, const char *name,
                     JsonObject *data, gint64 us, gpointer user) {
  TdmMirror *m = user;
  const char *node, *error;
  gboolean io_error;
  if (!m->a)
    return;
  if (g_str_equal(name, "QUORUM_REPORT_BAD")) {
    if (!tandem_qmp_quorum_report_bad_parse(data, &node, &io_error) ||
        !io_error || m->out >= 0)
      return;
    for (int i = 0; i < 2; i++)
      if (m->child_name[i] && !g_strcmp0(node, m->child_node[i])) {
        degrade(m, i);
        return;
      }
  } else if (m->job && tandem_qmp_block_job_event_is(data, m->job, &error)) {
    if (g_str_equal(name, "BLOCK_JOB_READY"))
      copy_ready(m);
    else if (g_str_equal(name, "BLOCK_JOB_COMPLETED"))
      copy_ended(m, TRUE, error);
    else if (g_str_equal(name, "BLOCK_JOB_CANCELLED"))
      copy_ended(m, FALSE, error);
  }
}

void tdm_mirror_watch(TdmMirror *m, TandemDiskManager *mgr,
                      TandemQmpClient *qmp) {
  m->mgr = mgr;
  if (m->event_id)
    g_signal_handler_disconnect(m->qmp, m->event_id);
  g_set_object(&m->qmp, qmp);
  m->event_id = g_signal_connect(qmp, "event", G_CALLBACK(on_event), m);
}
