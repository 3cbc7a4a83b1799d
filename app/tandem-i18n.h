/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Translation set-up shared by every Tandem program. */
#pragma once

#include <glib/gi18n.h>

/* Calls setlocale() and binds the text domain. The catalog directory is
 * LOCALEDIR unless TANDEM_LOCALEDIR names another (uninstalled runs, tests). */
void tandem_i18n_init(void);
