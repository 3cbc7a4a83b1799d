/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One valid, fully populated sample of every message type, for the
 * round-trip tests, the fuzzer's seed corpus and the benchmark. */
#pragma once

#include "tandem-protocol.h"

/* Fills @msg with a sample of @type whose every field holds a distinct,
 * non-default value. Pointers refer to static storage. Returns false for
 * an unknown type. */
bool tp_sample_message(uint16_t type, TpMessage *msg);

/* The role that receives @type (which side decodes it). */
TpRole tp_sample_receiver(uint16_t type);

/* A tiny valid PNG (1x1), for icon fields. */
extern const uint8_t tp_sample_png[];
extern const uint32_t tp_sample_png_len;
