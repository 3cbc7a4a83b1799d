/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's commands about a VM's applications and windows: a client of
 * org.tandem.Tandem1.Guests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "tandemctl apps VM", "launch VM APP [FILE|URI…]", "windows VM",
 * "focus VM": @argv[0] is the command. Each returns a TandemctlExit. */
int tandemctl_apps_main(int argc, char **argv);
int tandemctl_launch_main(int argc, char **argv);
int tandemctl_windows_main(int argc, char **argv);
int tandemctl_focus_main(int argc, char **argv);

G_END_DECLS
