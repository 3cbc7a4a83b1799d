/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-bench-keys running on a loopback guest's display, its reports
 * ("NAME KEYCODE STATE" lines) read on this process's main loop. Shared by
 * bench-proxy's focus case and the key tests (tests/e2e/test-keys.c). */
#pragma once

#include <gio/gio.h>

typedef struct {
  const char *name; /* the window: "keys-1", "victim-3", ... */
  guint keycode;
  guint state;      /* the event's X modifier mask */
} KeysReport;

typedef void (*KeysReportFunc)(const KeysReport *report, gpointer data);

typedef struct KeysRecorder KeysRecorder;

/* Starts @program (tandem-bench-keys) on @display with the arguments after
 * @error (NULL-terminated); each report goes to @func. */
KeysRecorder *keys_recorder_spawn(const char *display, const char *program,
                                  KeysReportFunc func, gpointer data,
                                  GError **error, ...) G_GNUC_NULL_TERMINATED;
/* Whether it said "ready" (every window mapped). */
gboolean keys_recorder_ready(KeysRecorder *r);
/* Stops it (bounded) and frees @r; NULL-safe. */
void keys_recorder_free(KeysRecorder *r);
