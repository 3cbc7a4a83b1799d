/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Field-by-field comparison of two messages, for tests. */
#pragma once

#include "tandem-protocol.h"

#include <stddef.h>

/* True if @a and @b carry the same type, window and body values. On a
 * difference, describes the first one in @why. */
bool tp_message_equal(const TpMessage *a, const TpMessage *b, char *why,
                      size_t why_len);
