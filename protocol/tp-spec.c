/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The message table: every body described field by field, with the bounds
 * the decoder enforces. docs/protocol.md mirrors this file. */
#include "tp-private.h"

#include <stddef.h>

#define OFF(m) ((uint16_t)offsetof(TpMessage, u.m))
#define HOST_SENDS ((uint8_t)TP_ROLE_HOST)
#define AGENT_SENDS ((uint8_t)TP_ROLE_AGENT)
#define BOTH_SEND ((uint8_t)(TP_ROLE_HOST | TP_ROLE_AGENT))

#define INT(k, m, lo, hi, e) {k, 0, e, OFF(m), lo, hi, 0}
#define U8R(m, lo, hi) INT(TP_F_U8, m, lo, hi, TP_ERR_BAD_VALUE)
#define BOOL(m) U8R(m, 0, 1)
#define U16R(m, lo, hi) INT(TP_F_U16, m, lo, hi, TP_ERR_BAD_VALUE)
#define U32(m) INT(TP_F_U32, m, 0, UINT32_MAX, TP_ERR_BAD_VALUE)
#define U32R(m, lo, hi) INT(TP_F_U32, m, lo, hi, TP_ERR_BAD_VALUE)
#define FLAGS(m, known) INT(TP_F_U32, m, 0, known, TP_ERR_BAD_FLAGS)
#define I32(m) INT(TP_F_I32, m, INT32_MIN, INT32_MAX, TP_ERR_BAD_VALUE)
#define U64(m) INT(TP_F_U64, m, 0, INT64_MAX, TP_ERR_BAD_VALUE)
#define POS(m) INT(TP_F_I32, m, TP_MIN_COORD, TP_MAX_COORD, TP_ERR_BAD_SIZE)
#define DIM(m) INT(TP_F_U32, m, 1, TP_MAX_WINDOW_DIM, TP_ERR_BAD_SIZE)
#define HINT(m) INT(TP_F_U32, m, 0, TP_MAX_WINDOW_DIM, TP_ERR_BAD_SIZE)
#define ASPECT(m) INT(TP_F_U32, m, 0, TP_MAX_ASPECT, TP_ERR_BAD_VALUE)
#define STR(m, cs, lo, hi) {TP_F_STR, cs, TP_ERR_BAD_STRING, OFF(m), lo, hi, 0}
#define LIST(m, cs, hi, n) \
  {TP_F_STR_LIST, cs, TP_ERR_BAD_STRING, OFF(m), 1, hi, n}
#define BLOB(m, chk, hi) {TP_F_BLOB, chk, TP_ERR_BAD_VALUE, OFF(m), 0, hi, 0}

#define SPEC(nm, who, win, f, chk) \
  {nm, who, win, f, (uint8_t)(sizeof(f) / sizeof(f[0])), NULL, NULL, 0, chk}
#define EMPTY(nm, who) {nm, who, TP_WIN_REQUIRED, NULL, 0, NULL, NULL, 0, NULL}

static const TpField hello_fields[] = {
    INT(TP_F_U32, hello.magic, TP_MAGIC, TP_MAGIC, TP_ERR_BAD_MAGIC),
    U16R(hello.version, 1, UINT16_MAX),
    U16R(hello.min_version, 1, UINT16_MAX),
    U64(hello.caps),
    POS(hello.screen_x),
    POS(hello.screen_y),
    INT(TP_F_U32, hello.screen_width, 0, TP_MAX_SCREEN_DIM, TP_ERR_BAD_SIZE),
    INT(TP_F_U32, hello.screen_height, 0, TP_MAX_SCREEN_DIM, TP_ERR_BAD_SIZE),
    U16R(hello.scale_percent, 50, 400),
    U16R(hello.icon_size, 0, TP_MAX_APP_ICON_DIM),
    STR(hello.os, TP_TEXT, 0, TP_MAX_IDENTITY_LEN),
    STR(hello.software, TP_TEXT, 0, TP_MAX_IDENTITY_LEN),
    STR(hello.locale, TP_ID, 0, TP_MAX_LOCALE_LEN),
};

static const TpField heartbeat_fields[] = {
    U32(heartbeat.seq),
    BOOL(heartbeat.reply),
    U64(heartbeat.sent_ns),
    U64(heartbeat.echo_ns),
};

static const TpField error_fields[] = {
    U32(error.code),
    U32(error.related_type),
    STR(error.message, TP_TEXT, 0, TP_MAX_MESSAGE_LEN),
};

static const TpField app_list_begin_fields[] = {
    U32(app_list_begin.generation),
    INT(TP_F_U32, app_list_begin.count, 0, TP_MAX_CATALOG_APPS,
        TP_ERR_TOO_MANY),
};

static const TpField app_entry_fields[] = {
    STR(app.id, TP_ID, 1, TP_MAX_ID_LEN),
    STR(app.name, TP_TEXT, 1, TP_MAX_NAME_LEN),
    STR(app.generic_name, TP_TEXT, 0, TP_MAX_NAME_LEN),
    STR(app.comment, TP_TEXT, 0, TP_MAX_COMMENT_LEN),
    STR(app.startup_wm_class, TP_TEXT, 0, TP_MAX_NAME_LEN),
    FLAGS(app.flags, TP_APP_FLAGS_KNOWN),
    LIST(app.categories, TP_ID, TP_MAX_ID_LEN, TP_MAX_CATEGORIES),
    LIST(app.mime_types, TP_MIME, TP_MAX_MIME_LEN, TP_MAX_MIME_TYPES),
    LIST(app.keywords, TP_TEXT, TP_MAX_KEYWORD_LEN, TP_MAX_KEYWORDS),
    BLOB(app.icon_png, TP_CHECK_PNG, TP_MAX_APP_ICON_BYTES),
};

static const TpField app_remove_fields[] = {
    STR(app_remove.id, TP_ID, 1, TP_MAX_ID_LEN),
};

static const TpField app_list_end_fields[] = {
    U32(app_list_end.generation),
};

static const TpField launch_fields[] = {
    U32(launch.request_id),
    STR(launch.app_id, TP_ID, 1, TP_MAX_ID_LEN),
    STR(launch.startup_id, TP_ID, 0, TP_MAX_STARTUP_ID_LEN),
    LIST(launch.args, TP_PATH, TP_MAX_PATH_LEN, TP_MAX_LAUNCH_ARGS),
};

static const TpField launch_result_fields[] = {
    U32(launch_result.request_id),
    U32R(launch_result.status, 0, TP_LAUNCH_LAST),
    U32(launch_result.pid),
    STR(launch_result.message, TP_TEXT, 0, TP_MAX_MESSAGE_LEN),
};

static const TpField create_fields[] = {
    POS(create.x),
    POS(create.y),
    DIM(create.width),
    DIM(create.height),
    U32(create.parent),
    U32(create.transient_for),
    BOOL(create.override_redirect),
    U8R(create.window_type, 0, TP_WINDOW_TYPE_LAST),
};

static const TpField configure_fields[] = {
    POS(configure.x),
    POS(configure.y),
    DIM(configure.width),
    DIM(configure.height),
    U32(configure.above),
};

static const TpField title_fields[] = {
    STR(title.title, TP_TEXT, 0, TP_MAX_TITLE_LEN),
};

static const TpField class_fields[] = {
    STR(wclass.res_name, TP_TEXT, 0, TP_MAX_NAME_LEN),
    STR(wclass.res_class, TP_TEXT, 0, TP_MAX_NAME_LEN),
};

static const TpField icon_fields[] = {
    INT(TP_F_U32, icon.width, 1, TP_MAX_WINDOW_ICON_DIM, TP_ERR_BAD_SIZE),
    INT(TP_F_U32, icon.height, 1, TP_MAX_WINDOW_ICON_DIM, TP_ERR_BAD_SIZE),
    BLOB(icon.argb, TP_CHECK_NONE,
         TP_MAX_WINDOW_ICON_DIM * TP_MAX_WINDOW_ICON_DIM * 4u),
};

static const TpField hints_fields[] = {
    FLAGS(hints.flags, TP_HINTS_KNOWN),
    HINT(hints.min_width),       HINT(hints.min_height),
    HINT(hints.max_width),       HINT(hints.max_height),
    HINT(hints.base_width),      HINT(hints.base_height),
    HINT(hints.width_inc),       HINT(hints.height_inc),
    ASPECT(hints.min_aspect_num), ASPECT(hints.min_aspect_den),
    ASPECT(hints.max_aspect_num), ASPECT(hints.max_aspect_den),
    U8R(hints.gravity, 0, 10),
};

static const TpField state_fields[] = {
    FLAGS(state.states, TP_STATES_KNOWN),
};

static const TpField frame_ack_fields[] = {
    U32(frame_ack.frame_seq),
    U32(frame_ack.paint_us),
};

static const TpField key_fields[] = {
    U32R(key.keycode, TP_MIN_KEYCODE, TP_MAX_KEYCODE),
    U32(key.keysym),
    U32(key.modifiers),
    BOOL(key.pressed),
    U32(key.time_ms),
};

static const TpField button_fields[] = {
    U32R(button.button, 1, TP_MAX_BUTTON),
    BOOL(button.pressed),
    POS(button.x),
    POS(button.y),
    U32(button.modifiers),
    U32(button.time_ms),
};

static const TpField motion_fields[] = {
    POS(motion.x),
    POS(motion.y),
    U32(motion.modifiers),
    U32(motion.time_ms),
};

static const TpField scroll_fields[] = {
    POS(scroll.x),
    POS(scroll.y),
    I32(scroll.discrete_x),
    I32(scroll.discrete_y),
    I32(scroll.smooth_x),
    I32(scroll.smooth_y),
    U32(scroll.modifiers),
    U32(scroll.time_ms),
};

static const TpField crossing_fields[] = {
    BOOL(crossing.enter),
    POS(crossing.x),
    POS(crossing.y),
    U32(crossing.modifiers),
    U32(crossing.time_ms),
};

static const TpField key_state_fields[] = {
    {TP_F_BYTES32, 0, TP_ERR_BAD_VALUE, OFF(key_state.keys), 0, 0, 0},
    U32(key_state.modifiers),
};

static const TpField focus_set_fields[] = {
    U32(focus_set.seq),
};

static const TpField focus_report_fields[] = {
    U32(focus_report.seq),
    U8R(focus_report.kind, 0, TP_FOCUS_LAST),
};

static const TpField move_resize_fields[] = {
    POS(move_resize.x),
    POS(move_resize.y),
    DIM(move_resize.width),
    DIM(move_resize.height),
    INT(TP_F_U32, move_resize.flags, 1, TP_MOVE | TP_RESIZE, TP_ERR_BAD_FLAGS),
};

static const TpField restack_fields[] = {
    U32(restack.sibling),
    BOOL(restack.below),
};

static const TpField set_state_fields[] = {
    FLAGS(set_state.mask, TP_STATES_KNOWN),
    FLAGS(set_state.value, TP_STATES_KNOWN),
};

static const TpField mount_fields[] = {
    U32(mount.request_id),
    STR(mount.serial, TP_ID, 1, TP_MAX_SERIAL_LEN),
    STR(mount.label, TP_ID, 1, TP_MAX_SERIAL_LEN),
    BOOL(mount.read_only),
};

static const TpField unmount_fields[] = {
    U32(unmount.request_id),
    STR(unmount.serial, TP_ID, 1, TP_MAX_SERIAL_LEN),
    BOOL(unmount.force),
};

static const TpField mount_result_fields[] = {
    U32(mount_result.request_id),
    U32R(mount_result.status, 0, TP_MOUNT_LAST),
    STR(mount_result.mountpoint, TP_PATH, 0, TP_MAX_PATH_LEN),
    STR(mount_result.message, TP_TEXT, 0, TP_MAX_MESSAGE_LEN),
    STR(mount_result.fs_type, TP_FSNAME, 0, TP_MAX_FS_TYPE_LEN),
    U64(mount_result.total_bytes),
    U64(mount_result.free_bytes),
};

/* Cross-field rules. */

static TpError check_hello(const TpMessage *m) {
  return m->u.hello.min_version > m->u.hello.version ? TP_ERR_BAD_VALUE : TP_OK;
}

/* Free space never exceeds the size; a result without a mounted file
 * system carries neither a type nor sizes. */
static TpError check_mount_result(const TpMessage *m) {
  const TpMountResult *r = &m->u.mount_result;
  if (r->free_bytes > r->total_bytes)
    return TP_ERR_BAD_VALUE;
  if (r->fs_type[0] == '\0' && r->total_bytes != 0)
    return TP_ERR_BAD_VALUE;
  if (r->status != TP_MOUNT_OK && r->fs_type[0] != '\0')
    return TP_ERR_BAD_VALUE;
  return TP_OK;
}

static TpError check_icon(const TpMessage *m) {
  uint64_t want = (uint64_t)m->u.icon.width * m->u.icon.height * 4u;
  return m->u.icon.argb.len == want ? TP_OK : TP_ERR_BAD_LENGTH;
}

static TpError check_hints(const TpMessage *m) {
  const TpWindowHints *h = &m->u.hints;
  if ((h->flags & TP_HINT_MIN_SIZE) && (h->flags & TP_HINT_MAX_SIZE) &&
      (h->min_width > h->max_width || h->min_height > h->max_height))
    return TP_ERR_BAD_SIZE;
  return TP_OK;
}

static TpError check_focus_report(const TpMessage *m) {
  bool is_window = m->u.focus_report.kind == TP_FOCUS_WINDOW;
  return is_window == (m->window != 0) ? TP_OK : TP_ERR_BAD_WINDOW;
}

static TpError check_set_state(const TpMessage *m) {
  return (m->u.set_state.value & ~m->u.set_state.mask) ? TP_ERR_BAD_FLAGS
                                                        : TP_OK;
}

static const TpSpec specs[TP_MSG_LAST + 1] = {
    [TP_MSG_HELLO] = SPEC("HELLO", BOTH_SEND, TP_WIN_NONE, hello_fields,
                          check_hello),
    [TP_MSG_HEARTBEAT] = SPEC("HEARTBEAT", BOTH_SEND, TP_WIN_NONE,
                              heartbeat_fields, NULL),
    [TP_MSG_ERROR] = SPEC("ERROR", BOTH_SEND, TP_WIN_NONE, error_fields, NULL),
    [TP_MSG_APP_LIST_BEGIN] = SPEC("APP_LIST_BEGIN", AGENT_SENDS, TP_WIN_NONE,
                                   app_list_begin_fields, NULL),
    [TP_MSG_APP_ENTRY] = SPEC("APP_ENTRY", AGENT_SENDS, TP_WIN_NONE,
                              app_entry_fields, NULL),
    [TP_MSG_APP_REMOVE] = SPEC("APP_REMOVE", AGENT_SENDS, TP_WIN_NONE,
                               app_remove_fields, NULL),
    [TP_MSG_APP_LIST_END] = SPEC("APP_LIST_END", AGENT_SENDS, TP_WIN_NONE,
                                 app_list_end_fields, NULL),
    [TP_MSG_LAUNCH] = SPEC("LAUNCH", HOST_SENDS, TP_WIN_NONE, launch_fields,
                           NULL),
    [TP_MSG_LAUNCH_RESULT] = SPEC("LAUNCH_RESULT", AGENT_SENDS, TP_WIN_NONE,
                                  launch_result_fields, NULL),
    [TP_MSG_WINDOW_CREATE] = SPEC("WINDOW_CREATE", AGENT_SENDS,
                                  TP_WIN_REQUIRED, create_fields, NULL),
    [TP_MSG_WINDOW_MAP] = EMPTY("WINDOW_MAP", AGENT_SENDS),
    [TP_MSG_WINDOW_UNMAP] = EMPTY("WINDOW_UNMAP", AGENT_SENDS),
    [TP_MSG_WINDOW_CONFIGURE] = SPEC("WINDOW_CONFIGURE", AGENT_SENDS,
                                     TP_WIN_REQUIRED, configure_fields, NULL),
    [TP_MSG_WINDOW_DESTROY] = EMPTY("WINDOW_DESTROY", AGENT_SENDS),
    [TP_MSG_WINDOW_DESTROY_ACK] = EMPTY("WINDOW_DESTROY_ACK", HOST_SENDS),
    [TP_MSG_WINDOW_TITLE] = SPEC("WINDOW_TITLE", AGENT_SENDS, TP_WIN_REQUIRED,
                                 title_fields, NULL),
    [TP_MSG_WINDOW_CLASS] = SPEC("WINDOW_CLASS", AGENT_SENDS, TP_WIN_REQUIRED,
                                 class_fields, NULL),
    [TP_MSG_WINDOW_ICON] = SPEC("WINDOW_ICON", AGENT_SENDS, TP_WIN_REQUIRED,
                                icon_fields, check_icon),
    [TP_MSG_WINDOW_HINTS] = SPEC("WINDOW_HINTS", AGENT_SENDS, TP_WIN_REQUIRED,
                                 hints_fields, check_hints),
    [TP_MSG_WINDOW_STATE] = SPEC("WINDOW_STATE", AGENT_SENDS, TP_WIN_REQUIRED,
                                 state_fields, NULL),
    [TP_MSG_DAMAGE] = {"DAMAGE", AGENT_SENDS, TP_WIN_REQUIRED, NULL, 0,
                       tp_damage_decode, tp_damage_encode, TP_DAMAGE_MAX_BODY,
                       tp_damage_check},
    [TP_MSG_FRAME_ACK] = SPEC("FRAME_ACK", HOST_SENDS, TP_WIN_REQUIRED,
                              frame_ack_fields, NULL),
    [TP_MSG_KEY] = SPEC("KEY", HOST_SENDS, TP_WIN_REQUIRED, key_fields, NULL),
    [TP_MSG_BUTTON] = SPEC("BUTTON", HOST_SENDS, TP_WIN_REQUIRED,
                           button_fields, NULL),
    [TP_MSG_MOTION] = SPEC("MOTION", HOST_SENDS, TP_WIN_REQUIRED,
                           motion_fields, NULL),
    [TP_MSG_SCROLL] = SPEC("SCROLL", HOST_SENDS, TP_WIN_REQUIRED,
                           scroll_fields, NULL),
    [TP_MSG_CROSSING] = SPEC("CROSSING", HOST_SENDS, TP_WIN_REQUIRED,
                             crossing_fields, NULL),
    [TP_MSG_KEY_STATE] = SPEC("KEY_STATE", HOST_SENDS, TP_WIN_REQUIRED,
                              key_state_fields, NULL),
    [TP_MSG_FOCUS_SET] = SPEC("FOCUS_SET", HOST_SENDS, TP_WIN_OPTIONAL,
                              focus_set_fields, NULL),
    [TP_MSG_FOCUS_REPORT] = SPEC("FOCUS_REPORT", AGENT_SENDS, TP_WIN_OPTIONAL,
                                 focus_report_fields, check_focus_report),
    [TP_MSG_WINDOW_CLOSE] = EMPTY("WINDOW_CLOSE", HOST_SENDS),
    [TP_MSG_WINDOW_MOVE_RESIZE] = SPEC("WINDOW_MOVE_RESIZE", HOST_SENDS,
                                       TP_WIN_REQUIRED, move_resize_fields,
                                       NULL),
    [TP_MSG_WINDOW_RESTACK] = SPEC("WINDOW_RESTACK", HOST_SENDS,
                                   TP_WIN_REQUIRED, restack_fields, NULL),
    [TP_MSG_WINDOW_SET_STATE] = SPEC("WINDOW_SET_STATE", HOST_SENDS,
                                     TP_WIN_REQUIRED, set_state_fields,
                                     check_set_state),
    [TP_MSG_MOUNT] = SPEC("MOUNT", HOST_SENDS, TP_WIN_NONE, mount_fields,
                          NULL),
    [TP_MSG_UNMOUNT] = SPEC("UNMOUNT", HOST_SENDS, TP_WIN_NONE,
                            unmount_fields, NULL),
    [TP_MSG_MOUNT_RESULT] = SPEC("MOUNT_RESULT", AGENT_SENDS, TP_WIN_NONE,
                                 mount_result_fields, check_mount_result),
};

const TpSpec *tp_spec_lookup(uint16_t type) {
  if (type == 0 || type > TP_MSG_LAST)
    return NULL;
  return &specs[type];
}

const char *tp_message_type_name(uint16_t type) {
  const TpSpec *spec = tp_spec_lookup(type);
  return spec ? spec->name : NULL;
}

uint32_t tp_field_min_size(const TpField *f) {
  switch ((TpFieldKind)f->kind) {
  case TP_F_U8: return 1;
  case TP_F_U16: return 2;
  case TP_F_U32:
  case TP_F_I32: return 4;
  case TP_F_U64: return 8;
  case TP_F_STR: return 2u + (uint32_t)f->min;
  case TP_F_STR_LIST: return 2;
  case TP_F_BLOB: return 4u + (uint32_t)f->min;
  case TP_F_BYTES32: return 32;
  }
  return 0;
}

static uint32_t field_max_size(const TpField *f) {
  switch ((TpFieldKind)f->kind) {
  case TP_F_STR: return 2u + (uint32_t)f->max;
  case TP_F_STR_LIST: return 2u + f->max_items * (2u + (uint32_t)f->max);
  case TP_F_BLOB: return 4u + (uint32_t)f->max;
  default: return tp_field_min_size(f);
  }
}

void tp_spec_body_bounds(const TpSpec *spec, uint32_t *min, uint32_t *max) {
  if (spec->decode) {
    *min = 0;
    *max = spec->custom_max;
    return;
  }
  *min = *max = 0;
  for (unsigned i = 0; i < spec->n_fields; i++) {
    *min += tp_field_min_size(&spec->fields[i]);
    *max += field_max_size(&spec->fields[i]);
  }
}
