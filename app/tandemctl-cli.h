/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every tandemctl command does with its command line: parse it with
 * its options and positional arguments, and explain a usage error. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

#define TANDEMCTL_JSON_OPTION(variable)                                   \
  {"json", 0, 0, G_OPTION_ARG_NONE, &(variable),                          \
   N_("Print JSON for scripts instead of text"), NULL}

/* Prints @message and where to read @command's help (@command as typed
 * after "tandemctl", e.g. "vm create"); returns TANDEMCTL_EXIT_USAGE. */
int tandemctl_usage_error(const char *command, const char *message);

/* Parses "@command ARG…" (@argv[0] is the command's last word) against
 * @entries, leaving the positional arguments in @argv[1..]. @missing says,
 * for each wanted argument in turn, what to tell the user when it is not
 * there (NULL-terminated; its length is how many are wanted). More than
 * that are an error unless @more_allowed. @parameter is the arguments'
 * summary for --help. FALSE after reporting a usage error. */
gboolean tandemctl_parse_command(const char *command, const char *parameter,
                                 const char *summary,
                                 const GOptionEntry *entries,
                                 const char *const *missing,
                                 gboolean more_allowed, int *argc,
                                 char ***argv);

/* A group of commands ("tandemctl snapshot …", "tandemctl storage …"). */
typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0]: the command's name */
} TandemctlCommand;

/* Runs the command @argv[1] names among @commands: the group's help on
 * stdout for --help, -h and help, on stderr (exit 2) when there is no
 * command; @unknown (translated, one %s: what the user typed) when there
 * is no such command (exit 2). */
int tandemctl_run_group(const TandemctlCommand *commands, gsize n_commands,
                        void (*print_help)(FILE *stream),
                        const char *unknown, int argc, char **argv);

G_END_DECLS
