/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's "vm" commands: a client of org.tandem.Tandem1.Manager. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* tandemctl's exit statuses (tandemctl(1), EXIT STATUS). */
typedef enum {
  TANDEMCTL_EXIT_OK = 0,
  TANDEMCTL_EXIT_FAILED = 1, /* the command failed; the error says why */
  TANDEMCTL_EXIT_USAGE = 2,  /* the command line was wrong */
} TandemctlExit;

/* "tandemctl vm ...": @argv[0] is "vm". Returns a TandemctlExit. */
int tandemctl_vm_main(int argc, char **argv);

/* --- Output (tandemctl-vm-output.c) ------------------------------------ */

/* @node as indented JSON and a newline, on stdout. */
void tandemctl_print_json(JsonNode *node);

/* A table for people: a header line, then @n_rows rows of @n_columns
 * @cells (row by row), each column padded to its widest cell in
 * characters (not bytes: names and titles may be any UTF-8); the last
 * column is not padded. */
void tandemctl_print_table(const char *const *headers, guint n_columns,
                           const char *const *cells, guint n_rows);

/* ListVMs as a table: objects with "name", "state", "accelerator". */
void tandemctl_print_vm_table(JsonArray *vms);

/* One line on what a VM is doing ("“debian” is running (TCG).") from a
 * GetVM object; with @details, its memory, CPUs, process and so on. */
void tandemctl_print_vm_status(JsonObject *vm, gboolean details);

G_END_DECLS
