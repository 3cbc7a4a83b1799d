/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-display.h"

#include <string.h>

gboolean tandem_display_handles(uint16_t type) {
  switch (type) {
  case TP_MSG_WINDOW_DESTROY_ACK:
  case TP_MSG_FRAME_ACK:
  case TP_MSG_KEY:
  case TP_MSG_BUTTON:
  case TP_MSG_MOTION:
  case TP_MSG_SCROLL:
  case TP_MSG_CROSSING:
  case TP_MSG_KEY_STATE:
  case TP_MSG_FOCUS_SET:
  case TP_MSG_WINDOW_CLOSE:
  case TP_MSG_WINDOW_MOVE_RESIZE:
  case TP_MSG_WINDOW_RESTACK:
  case TP_MSG_WINDOW_SET_STATE:
    return TRUE;
  default:
    return FALSE;
  }
}

char *tandem_fit_text(const char *s, gssize len, size_t max) {
  if (!s)
    return g_strdup("");
  g_autofree char *valid = g_utf8_make_valid(s, len);
  return g_strndup(valid, tp_utf8_truncate(valid, strlen(valid), max));
}
