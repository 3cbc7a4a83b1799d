/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "protocol-compare.h"

#include "tp-private.h"

#include <stdio.h>
#include <string.h>

#define AT(m, f) ((const void *)((const char *)(m) + (f)->offset))

static bool str_eq(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool blob_eq(const TpBlob *a, const TpBlob *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool field_eq(const TpField *f, const TpMessage *a, const TpMessage *b) {
  switch ((TpFieldKind)f->kind) {
  case TP_F_STR:
    return str_eq(*(const char *const *)AT(a, f), *(const char *const *)AT(b, f));
  case TP_F_STR_LIST: {
    const TpStrList *la = (const TpStrList *)AT(a, f);
    const TpStrList *lb = (const TpStrList *)AT(b, f);
    if (la->n != lb->n)
      return false;
    for (uint32_t i = 0; i < la->n; i++)
      if (!str_eq(la->items[i], lb->items[i]))
        return false;
    return true;
  }
  case TP_F_BLOB:
    return blob_eq((const TpBlob *)AT(a, f), (const TpBlob *)AT(b, f));
  case TP_F_BYTES32:
    return memcmp(AT(a, f), AT(b, f), 32) == 0;
  default:
    return memcmp(AT(a, f), AT(b, f), tp_field_min_size(f)) == 0;
  }
}

static bool damage_eq(const TpDamage *a, const TpDamage *b, char *why,
                      size_t n) {
  if (a->frame_seq != b->frame_seq || a->encoding != b->encoding ||
      a->flags != b->flags || a->n_rects != b->n_rects) {
    snprintf(why, n, "damage header differs");
    return false;
  }
  for (unsigned i = 0; i < a->n_rects; i++) {
    const TpRect *ra = &a->rects[i], *rb = &b->rects[i];
    if (ra->x != rb->x || ra->y != rb->y || ra->width != rb->width ||
        ra->height != rb->height || ra->len != rb->len ||
        memcmp(ra->data, rb->data, ra->len) != 0) {
      snprintf(why, n, "damage rect %u differs", i);
      return false;
    }
  }
  return true;
}

bool tp_message_equal(const TpMessage *a, const TpMessage *b, char *why,
                      size_t why_len) {
  if (a->type != b->type || a->window != b->window) {
    snprintf(why, why_len, "type/window %u/%u vs %u/%u", a->type, a->window,
             b->type, b->window);
    return false;
  }
  const TpSpec *spec = tp_spec_lookup(a->type);
  if (!spec) {
    snprintf(why, why_len, "unknown type %u", a->type);
    return false;
  }
  if (a->type == TP_MSG_DAMAGE)
    return damage_eq(&a->u.damage, &b->u.damage, why, why_len);
  for (unsigned i = 0; i < spec->n_fields; i++) {
    if (!field_eq(&spec->fields[i], a, b)) {
      snprintf(why, why_len, "%s: field %u differs", spec->name, i);
      return false;
    }
  }
  return true;
}
