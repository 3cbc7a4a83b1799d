/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tandem agent wire protocol, version 2.
 *
 * The channel between tandem-agent (in the guest) and the host. Frames are a
 * 12-byte little-endian header (type u16, flags u16, window u32, length u32)
 * followed by `length` body bytes. docs/protocol.md describes every message.
 *
 * Plain C11 with no dependencies, so that any agent (another guest OS too)
 * can link it, and so the fuzzer sees all of it.
 *
 * Ownership: a TpMessage filled by the decoder borrows every pointer it holds
 * (strings, lists, pixel data) from the TpReader or TpArena that decoded it;
 * they stay valid until the next call on that reader/arena. A TpMessage built
 * by a caller for tp_encode() is only read.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem-protocol-limits.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  TP_OK = 0,
  TP_AGAIN,              /* reader: no complete frame buffered yet */
  TP_ERR_TRUNCATED,      /* body ends before a field does */
  TP_ERR_TOO_LONG,       /* declared length above what the type allows */
  TP_ERR_BAD_LENGTH,     /* wrong length for a fixed-size type, trailing bytes */
  TP_ERR_UNKNOWN_TYPE,
  TP_ERR_WRONG_DIRECTION,/* a message the receiving side never accepts */
  TP_ERR_BAD_FLAGS,      /* reserved header or body flags set */
  TP_ERR_BAD_WINDOW,     /* window id zero where one is needed, or vice versa */
  TP_ERR_BAD_SIZE,       /* width/height/position out of range */
  TP_ERR_TOO_MANY,       /* a count above its limit */
  TP_ERR_BAD_UTF8,
  TP_ERR_BAD_STRING,     /* string overruns the body, empty, or bad characters */
  TP_ERR_BAD_VALUE,      /* enum or field out of range */
  TP_ERR_BAD_MAGIC,
  TP_ERR_BAD_IMAGE,      /* icon not a PNG, or dimensions over the limit */
  TP_ERR_NOMEM,
  TP_ERR_INVALID_ARG,    /* caller mistake (NULL, encode of an unknown type) */
  TP_ERR_VERSION,        /* handshake: no common protocol version */
  TP_N_ERRORS
} TpError;

const char *tp_error_to_string(TpError err);

/* Which side is receiving: decoders reject messages the other side never
 * sends (a guest cannot send input events to the host, for example). */
typedef enum {
  TP_ROLE_HOST = 1,  /* host decodes what the agent sends */
  TP_ROLE_AGENT = 2, /* agent decodes what the host sends */
} TpRole;

/* Message types. Values are wire-stable: append only. */
typedef enum {
  TP_MSG_HELLO = 1,
  TP_MSG_HEARTBEAT,
  TP_MSG_ERROR,
  TP_MSG_APP_LIST_BEGIN,
  TP_MSG_APP_ENTRY,
  TP_MSG_APP_REMOVE,
  TP_MSG_APP_LIST_END,
  TP_MSG_LAUNCH,
  TP_MSG_LAUNCH_RESULT,
  TP_MSG_WINDOW_CREATE,
  TP_MSG_WINDOW_MAP,
  TP_MSG_WINDOW_UNMAP,
  TP_MSG_WINDOW_CONFIGURE,
  TP_MSG_WINDOW_DESTROY,
  TP_MSG_WINDOW_DESTROY_ACK,
  TP_MSG_WINDOW_TITLE,
  TP_MSG_WINDOW_CLASS,
  TP_MSG_WINDOW_ICON,
  TP_MSG_WINDOW_HINTS,
  TP_MSG_WINDOW_STATE,
  TP_MSG_DAMAGE,
  TP_MSG_FRAME_ACK,
  TP_MSG_KEY,
  TP_MSG_BUTTON,
  TP_MSG_MOTION,
  TP_MSG_SCROLL,
  TP_MSG_CROSSING,
  TP_MSG_KEY_STATE,
  TP_MSG_FOCUS_SET,
  TP_MSG_FOCUS_REPORT,
  TP_MSG_WINDOW_CLOSE,
  TP_MSG_WINDOW_MOVE_RESIZE,
  TP_MSG_WINDOW_RESTACK,
  TP_MSG_WINDOW_SET_STATE,
  TP_MSG_MOUNT,
  TP_MSG_UNMOUNT,
  TP_MSG_MOUNT_RESULT,
  TP_MSG_LAST = TP_MSG_MOUNT_RESULT
} TpMessageType;

const char *tp_message_type_name(uint16_t type); /* NULL if unknown */

/* Capability bits exchanged in HELLO; the session uses the AND of both. */
enum {
  TP_CAP_LZ4 = 1u << 0,        /* DAMAGE rectangles may be LZ4-compressed */
  TP_CAP_ZSTD = 1u << 1,       /* ... or zstd-compressed */
  TP_CAP_SHM = 1u << 2,        /* DAMAGE may point into the shared region */
  TP_CAP_MOUNT = 1u << 3,      /* agent can mount attached disks */
  TP_CAP_WM = 1u << 4,         /* agent acts as the guest's window manager */
  TP_CAP_SVG_ICONS = 1u << 5,  /* agent renders SVG icons to PNG */
  TP_CAP_COPY = 1u << 6,       /* DAMAGE may move pixels within a window */
  TP_CAP_BGR = 1u << 7,        /* ... and send them as LZ4 of 3-byte BGR */
};
#define TP_CAPS_KNOWN 0x3fu

/* Borrowed views into a frame. */
typedef struct {
  const uint8_t *data;
  uint32_t len;
} TpBlob;

typedef struct {
  uint32_t n;
  const char *const *items; /* n NUL-terminated strings */
} TpStrList;

typedef struct {
  uint32_t magic;            /* TP_MAGIC */
  uint16_t version;          /* highest protocol version the sender speaks */
  uint16_t min_version;      /* lowest it still speaks */
  uint64_t caps;             /* TP_CAP_* */
  int32_t screen_x, screen_y;
  uint32_t screen_width, screen_height; /* agent: guest root; host: desktop */
  uint16_t scale_percent;    /* 100 = 1x; host HiDPI factor */
  uint16_t icon_size;        /* host: icon size it wants, in pixels */
  const char *os;            /* e.g. "Debian GNU/Linux 12" */
  const char *software;      /* e.g. "tandem-agent 0.1.0" */
  const char *locale;        /* host: locale for localized catalog keys */
} TpHello;

typedef struct {
  uint32_t seq;
  uint8_t reply;             /* 0 = ping, 1 = pong */
  uint64_t sent_ns;          /* sender's CLOCK_MONOTONIC */
  uint64_t echo_ns;          /* pong: the ping's sent_ns */
} TpHeartbeat;

typedef struct {
  uint32_t code;             /* a TpError, or TP_PEER_ERR_* */
  uint32_t related_type;     /* the message type it concerns, or 0 */
  const char *message;
} TpErrorMsg;

typedef struct {
  uint32_t generation;
  uint32_t count;            /* APP_ENTRY messages that follow */
} TpAppListBegin;

enum { TP_APP_TERMINAL = 1u << 0 };
#define TP_APP_FLAGS_KNOWN 0x1u

typedef struct {
  const char *id;            /* desktop file id without ".desktop" */
  const char *name;          /* localized for the host's locale */
  const char *generic_name;
  const char *comment;
  const char *startup_wm_class;
  uint32_t flags;            /* TP_APP_* */
  TpStrList categories;
  TpStrList mime_types;
  TpStrList keywords;
  TpBlob icon_png;           /* may be empty */
} TpAppEntry;

typedef struct {
  const char *id;
} TpAppRemove;

typedef struct {
  uint32_t generation;
} TpAppListEnd;

typedef struct {
  uint32_t request_id;
  const char *app_id;
  const char *startup_id;    /* startup-notification id, may be empty */
  TpStrList args;            /* files or URIs */
} TpLaunch;

typedef enum {
  TP_LAUNCH_STARTED = 0,
  TP_LAUNCH_NOT_FOUND,
  TP_LAUNCH_EXEC_FAILED,
  TP_LAUNCH_BAD_ARGS,
  TP_LAUNCH_DENIED,
  TP_LAUNCH_LAST = TP_LAUNCH_DENIED
} TpLaunchStatus;

typedef struct {
  uint32_t request_id;
  uint32_t status;           /* TpLaunchStatus */
  uint32_t pid;
  const char *message;
} TpLaunchResult;

typedef enum {
  TP_WINDOW_TYPE_NORMAL = 0,
  TP_WINDOW_TYPE_DIALOG,
  TP_WINDOW_TYPE_UTILITY,
  TP_WINDOW_TYPE_TOOLBAR,
  TP_WINDOW_TYPE_SPLASH,
  TP_WINDOW_TYPE_MENU,
  TP_WINDOW_TYPE_DROPDOWN_MENU,
  TP_WINDOW_TYPE_POPUP_MENU,
  TP_WINDOW_TYPE_TOOLTIP,
  TP_WINDOW_TYPE_NOTIFICATION,
  TP_WINDOW_TYPE_COMBO,
  TP_WINDOW_TYPE_DND,
  TP_WINDOW_TYPE_LAST = TP_WINDOW_TYPE_DND
} TpWindowType;

typedef struct {
  int32_t x, y;
  uint32_t width, height;
  uint32_t parent;           /* 0 = root */
  uint32_t transient_for;    /* 0 = none */
  uint8_t override_redirect;
  uint8_t window_type;       /* TpWindowType */
} TpWindowCreate;

typedef struct {
  int32_t x, y;
  uint32_t width, height;
  uint32_t above;            /* sibling it is stacked above, 0 = bottom */
} TpWindowConfigure;

typedef struct {
  const char *title;
} TpWindowTitle;

typedef struct {
  const char *res_name;
  const char *res_class;
} TpWindowClass;

typedef struct {
  uint32_t width, height;
  TpBlob argb;               /* width*height*4 bytes, ARGB32 native order */
} TpWindowIcon;

enum {
  TP_HINT_MIN_SIZE = 1u << 0,
  TP_HINT_MAX_SIZE = 1u << 1,
  TP_HINT_BASE_SIZE = 1u << 2,
  TP_HINT_RESIZE_INC = 1u << 3,
  TP_HINT_ASPECT = 1u << 4,
  TP_HINT_GRAVITY = 1u << 5,
};
#define TP_HINTS_KNOWN 0x3fu
#define TP_MAX_ASPECT 65535u

typedef struct {
  uint32_t flags;            /* TP_HINT_* */
  uint32_t min_width, min_height;
  uint32_t max_width, max_height;
  uint32_t base_width, base_height;
  uint32_t width_inc, height_inc;
  uint32_t min_aspect_num, min_aspect_den;
  uint32_t max_aspect_num, max_aspect_den;
  uint8_t gravity;           /* X11 gravity 1..10, 0 = unset */
} TpWindowHints;

enum {
  TP_STATE_MAXIMIZED_HORZ = 1u << 0,
  TP_STATE_MAXIMIZED_VERT = 1u << 1,
  TP_STATE_FULLSCREEN = 1u << 2,
  TP_STATE_HIDDEN = 1u << 3,        /* minimized */
  TP_STATE_DEMANDS_ATTENTION = 1u << 4,
  TP_STATE_MODAL = 1u << 5,
  TP_STATE_ABOVE = 1u << 6,
  TP_STATE_BELOW = 1u << 7,
  TP_STATE_STICKY = 1u << 8,
  TP_STATE_SKIP_TASKBAR = 1u << 9,
};
#define TP_STATES_KNOWN 0x3ffu

typedef struct {
  uint32_t states;           /* TP_STATE_* */
} TpWindowState;

typedef enum {
  TP_ENCODING_RAW = 0,       /* BGRA, stride = width * 4 */
  TP_ENCODING_LZ4 = 1,
  TP_ENCODING_ZSTD = 2,
  /* The pixels are in the shared pixel region (TP_CAP_SHM): each
   * rectangle's data is a TpShmRef of TP_SHM_REF_SIZE bytes saying where. */
  TP_ENCODING_SHM = 3,
  /* The rectangle is filled with the window's own pixels from elsewhere
   * (TP_CAP_COPY: a scroll): its data is a TpCopyRef of
   * TP_COPY_REF_SIZE bytes saying from where. */
  TP_ENCODING_COPY = 4,
  /* LZ4 (TP_CAP_BGR) of the rectangle's pixels as 3 bytes each, blue,
   * green, red, rows of width * 3 bytes: a quarter less to compress and
   * send than BGRA whose fourth byte the host ignores anyway. */
  TP_ENCODING_LZ4_BGR = 5,
  TP_ENCODING_LAST = TP_ENCODING_LZ4_BGR
} TpEncoding;

/* The shared pixel region: memory both sides map (ivshmem in a VM, a file
 * in loopback). The host creates it and writes this header at its start;
 * rectangles live after it. A rectangle in it is BGRA rows of
 * width * 4 bytes, @stride bytes apart, the first at @offset. */
#define TP_SHM_MAGIC "TANDEMPX"
#define TP_SHM_HEADER_SIZE 4096u
#define TP_SHM_REF_SIZE 8u
/* Header: magic (8 bytes, no NUL), u32 version (1), u32 header size,
 * u64 size of the whole region; zeros to TP_SHM_HEADER_SIZE. */

typedef struct {
  uint32_t offset;           /* from the region's start */
  uint32_t stride;           /* bytes from one row to the next */
} TpShmRef;

/* A TP_ENCODING_COPY rectangle: the pixels of the same size at src_x,
 * src_y of the window, as they were before this rectangle (the two may
 * overlap), move to the rectangle. */
#define TP_COPY_REF_SIZE 4u
typedef struct {
  uint16_t src_x, src_y;
} TpCopyRef;

enum { TP_DAMAGE_FRAME_END = 1u << 0 };
#define TP_DAMAGE_FLAGS_KNOWN 0x1u

typedef struct {
  uint16_t x, y, width, height; /* window-relative */
  uint32_t len;              /* bytes of data */
  const uint8_t *data;
} TpRect;

typedef struct {
  uint32_t frame_seq;
  uint8_t encoding;          /* TpEncoding, for every rectangle */
  uint8_t flags;             /* TP_DAMAGE_* */
  uint16_t n_rects;
  const TpRect *rects;
} TpDamage;

typedef struct {
  uint32_t frame_seq;
  uint32_t paint_us;         /* host time to decode and paint the frame */
} TpFrameAck;

typedef struct {
  uint32_t keycode;          /* X keycode (evdev + 8) */
  uint32_t keysym;
  uint32_t modifiers;        /* X modifier mask */
  uint8_t pressed;
  uint32_t time_ms;
} TpKey;

typedef struct {
  uint32_t button;           /* 1..TP_MAX_BUTTON */
  uint8_t pressed;
  int32_t x, y;              /* window-relative */
  uint32_t modifiers;
  uint32_t time_ms;
} TpButton;

typedef struct {
  int32_t x, y;
  uint32_t modifiers;
  uint32_t time_ms;
} TpMotion;

typedef struct {
  int32_t x, y;
  int32_t discrete_x, discrete_y; /* whole steps (wheel clicks) */
  int32_t smooth_x, smooth_y;     /* 16.16 fixed point, 1.0 = one step */
  uint32_t modifiers;
  uint32_t time_ms;
} TpScroll;

typedef struct {
  uint8_t enter;             /* 1 = enter, 0 = leave */
  int32_t x, y;
  uint32_t modifiers;
  uint32_t time_ms;
} TpCrossing;

typedef struct {
  uint8_t keys[32];          /* bit k set = X keycode k is down on the host */
  uint32_t modifiers;
} TpKeyState;

typedef struct {
  uint32_t seq;              /* header window: target, 0 = stub placeholder */
} TpFocusSet;

typedef enum {
  TP_FOCUS_WINDOW = 0,       /* header window holds the focused window */
  TP_FOCUS_STUB,
  TP_FOCUS_NONE,             /* root or nothing */
  TP_FOCUS_OTHER,            /* a guest window the host was not told about */
  TP_FOCUS_LAST = TP_FOCUS_OTHER
} TpFocusKind;

typedef struct {
  uint32_t seq;              /* the FOCUS_SET it answers, 0 if unsolicited */
  uint8_t kind;              /* TpFocusKind */
} TpFocusReport;

enum { TP_MOVE = 1u << 0, TP_RESIZE = 1u << 1 };

typedef struct {
  int32_t x, y;
  uint32_t width, height;
  uint32_t flags;            /* TP_MOVE | TP_RESIZE, at least one */
} TpMoveResize;

typedef struct {
  uint32_t sibling;          /* 0 = top (ABOVE) or bottom (BELOW) of stack */
  uint8_t below;             /* 0 = above sibling, 1 = below it */
} TpRestack;

typedef struct {
  uint32_t mask;             /* TP_STATE_* bits to change */
  uint32_t value;            /* their new values; value & ~mask == 0 */
} TpSetState;

typedef struct {
  uint32_t request_id;
  const char *serial;        /* disk serial as the guest sees it */
  const char *label;         /* mount directory name */
  uint8_t read_only;
} TpMount;

typedef struct {
  uint32_t request_id;
  const char *serial;
  uint8_t force;             /* 1: sync, then detach lazily even if busy */
} TpUnmount;

typedef enum {
  TP_MOUNT_OK = 0,
  TP_MOUNT_NOT_FOUND,
  TP_MOUNT_FAILED,
  TP_MOUNT_BUSY,
  TP_MOUNT_NO_FILESYSTEM,    /* the disk is there but holds nothing mountable;
                                nothing was formatted */
  TP_MOUNT_LAST = TP_MOUNT_NO_FILESYSTEM
} TpMountStatus;

typedef struct {
  uint32_t request_id;
  uint32_t status;           /* TpMountStatus */
  const char *mountpoint;    /* empty on failure */
  const char *message;
  const char *fs_type;       /* as mounted: "ext4", "vfat"...; empty unless
                                a mount succeeded */
  uint64_t total_bytes;      /* statvfs of the mount point after mounting, */
  uint64_t free_bytes;       /* free for an unprivileged user; 0 otherwise */
} TpMountResult;

typedef struct {
  uint16_t type;             /* TpMessageType */
  uint32_t window;           /* 0 when the type has no window */
  union {
    TpHello hello;
    TpHeartbeat heartbeat;
    TpErrorMsg error;
    TpAppListBegin app_list_begin;
    TpAppEntry app;
    TpAppRemove app_remove;
    TpAppListEnd app_list_end;
    TpLaunch launch;
    TpLaunchResult launch_result;
    TpWindowCreate create;
    TpWindowConfigure configure;
    TpWindowTitle title;
    TpWindowClass wclass;
    TpWindowIcon icon;
    TpWindowHints hints;
    TpWindowState state;
    TpDamage damage;
    TpFrameAck frame_ack;
    TpKey key;
    TpButton button;
    TpMotion motion;
    TpScroll scroll;
    TpCrossing crossing;
    TpKeyState key_state;
    TpFocusSet focus_set;
    TpFocusReport focus_report;
    TpMoveResize move_resize;
    TpRestack restack;
    TpSetState set_state;
    TpMount mount;
    TpUnmount unmount;
    TpMountResult mount_result;
  } u;
} TpMessage;

typedef struct {
  uint16_t type;
  uint16_t flags;            /* reserved, 0 in version 1 */
  uint32_t window;
  uint32_t length;           /* body bytes after the header */
} TpHeader;

/* --- Growable output buffer ------------------------------------------- */

typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} TpBuf;

void tp_buf_init(TpBuf *buf);
void tp_buf_clear(TpBuf *buf);   /* frees; buf is reusable after */
void tp_buf_reset(TpBuf *buf);   /* len = 0, keeps capacity */

/* --- Scratch memory for decoded strings and arrays --------------------- */

typedef struct {
  uint8_t *data;
  size_t used;
  size_t cap;
} TpArena;

void tp_arena_init(TpArena *arena);
void tp_arena_clear(TpArena *arena);

/* --- Encoding ----------------------------------------------------------- */

/* Appends one frame to @buf. The message is checked against every rule the
 * decoder applies (so a sender's bug shows up as an error on its side, not as
 * a dropped connection); on error @buf is left as it was. */
TpError tp_encode(const TpMessage *msg, TpBuf *buf);

/* --- Decoding ----------------------------------------------------------- */

/* Checks a header on its own: known type, allowed direction for @receiver,
 * reserved flags, window rule and the declared length against the type's
 * bound, so a reader can refuse a frame before buffering its body. */
TpError tp_header_decode(const uint8_t bytes[TP_HEADER_SIZE], TpRole receiver,
                         TpHeader *out);

/* Decodes one body whose header already passed tp_header_decode(). Strings
 * are validated, sanitised and copied into @arena (reset first); pixel and
 * icon data point into @body. */
TpError tp_body_decode(const TpHeader *header, const uint8_t *body,
                       TpArena *arena, TpMessage *out);

/* --- Stream reader ------------------------------------------------------ */

typedef struct TpReader TpReader;

TpReader *tp_reader_new(TpRole receiver);
void tp_reader_free(TpReader *reader);

/* Space to read into, without an extra copy: returns a pointer and sets
 * @avail (0 when the caller must first drain frames with tp_reader_next()).
 * Never grows the buffer beyond the current frame's validated size or the
 * read chunk, whichever is larger. Returns NULL with @avail 0 after an error. */
uint8_t *tp_reader_prepare(TpReader *reader, size_t *avail);
void tp_reader_commit(TpReader *reader, size_t n);

/* Copying convenience over prepare/commit. Returns how many bytes of @data
 * were taken; fewer than @len means "call tp_reader_next() first". */
size_t tp_reader_feed(TpReader *reader, const void *data, size_t len);

/* Decodes the next complete frame into @out: TP_OK, TP_AGAIN (need more
 * bytes) or an error. After an error the reader is dead: every later call
 * returns the same error, and the connection should be dropped. */
TpError tp_reader_next(TpReader *reader, TpMessage *out);

size_t tp_reader_buffered(const TpReader *reader);

/* --- Text helpers ------------------------------------------------------- */

/* True if @s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, no
 * code points above U+10FFFF). */
bool tp_utf8_validate(const char *s, size_t len);

/* Removes, in place, C0/C1 control characters, DEL and the bidirectional
 * embedding, override and isolate characters (U+202A..U+202E,
 * U+2066..U+2069) from valid UTF-8. Returns the new length. */
size_t tp_text_sanitize(char *s, size_t len);

/* Length of the longest prefix of @s, at most @max bytes, that does not cut
 * a UTF-8 sequence: senders use it to fit text into a field's limit. */
size_t tp_utf8_truncate(const char *s, size_t len, size_t max);

/* --- The shared pixel region -------------------------------------------- */

/* Where a TP_ENCODING_SHM rectangle's pixels are, checked against a region
 * of @region_size bytes: every byte of it lies in the region after the
 * header, rows do not overlap (stride >= width * 4) and are 4-byte
 * aligned. TP_ERR_BAD_LENGTH for a reference of the wrong size,
 * TP_ERR_BAD_VALUE for one that points outside. */
TpError tp_shm_ref_read(const TpRect *rect, uint64_t region_size,
                        TpShmRef *out);
void tp_shm_ref_write(uint8_t out[TP_SHM_REF_SIZE], const TpShmRef *ref);

/* Where a TP_ENCODING_COPY rectangle's pixels come from: TP_ERR_BAD_LENGTH
 * for a reference of the wrong size, TP_ERR_BAD_SIZE for a source that
 * does not fit in TP_MAX_WINDOW_DIM. */
TpError tp_copy_ref_read(const TpRect *rect, TpCopyRef *out);
void tp_copy_ref_write(uint8_t out[TP_COPY_REF_SIZE], const TpCopyRef *ref);

/* The header a region of @size bytes starts with, and its check: FALSE
 * unless @data (at least TP_SHM_HEADER_SIZE bytes) holds a version 1
 * header for a region of at most @mapped bytes. */
void tp_shm_header_write(uint8_t *data, uint64_t size);
bool tp_shm_header_check(const uint8_t *data, uint64_t mapped);

/* --- Handshake ---------------------------------------------------------- */

/* Picks the protocol version both sides speak: the highest version within
 * both ranges. Returns TP_ERR_VERSION if the ranges do not overlap and
 * TP_ERR_BAD_MAGIC if @peer is not a Tandem peer. */
TpError tp_hello_negotiate(const TpHello *ours, const TpHello *peer,
                           uint16_t *version, uint64_t *caps);

#ifdef __cplusplus
}
#endif
