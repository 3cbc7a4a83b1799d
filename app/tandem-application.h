/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Tandem shell: a single-instance GtkApplication. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define TANDEM_TYPE_APPLICATION (tandem_application_get_type())
G_DECLARE_FINAL_TYPE(TandemApplication, tandem_application, TANDEM,
                     APPLICATION, GtkApplication)

TandemApplication *tandem_application_new(void);

G_END_DECLS
