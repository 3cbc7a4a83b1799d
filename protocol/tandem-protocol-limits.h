/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tandem agent wire protocol — every bound the decoders enforce.
 *
 * One place for all limits so that docs/protocol.md, the decoders and the
 * tests agree. A peer that exceeds any of them has its frame rejected and its
 * connection dropped; a well-behaved sender truncates or splits before
 * sending (see tp_utf8_truncate() and the damage splitting rule below).
 */
#pragma once

/* Wire format */
#define TP_PROTOCOL_VERSION 2u
/* The codec knows one layout per message, the current version's: a peer
 * must not negotiate anything older (version 2 grew UNMOUNT and
 * MOUNT_RESULT). */
#define TP_PROTOCOL_MIN_VERSION 2u
#define TP_MAGIC 0x4d444e54u            /* "TNDM" read as little-endian u32 */
#define TP_HEADER_SIZE 12u

/* Geometry: window sizes in pixels, positions in root coordinates. */
#define TP_MAX_WINDOW_DIM 8192u
#define TP_MIN_COORD (-32768)
#define TP_MAX_COORD 32767
#define TP_MAX_SCREEN_DIM 32767u

/* Text fields, in bytes of UTF-8 on the wire (after sanitising they can only
 * get shorter). */
#define TP_MAX_TITLE_LEN 1024u
#define TP_MAX_NAME_LEN 256u            /* app names, WM_CLASS parts */
#define TP_MAX_COMMENT_LEN 1024u
#define TP_MAX_ID_LEN 255u              /* application ids, categories */
#define TP_MAX_MIME_LEN 255u
#define TP_MAX_KEYWORD_LEN 128u
#define TP_MAX_PATH_LEN 4096u           /* files and URIs given to a launch */
#define TP_MAX_MESSAGE_LEN 1024u        /* human-readable result/error text */
#define TP_MAX_IDENTITY_LEN 128u        /* OS name, software version */
#define TP_MAX_LOCALE_LEN 64u
#define TP_MAX_SERIAL_LEN 64u           /* disk serial numbers, mount labels */
#define TP_MAX_FS_TYPE_LEN 16u          /* "ext4", "vfat": [a-z0-9] only */
#define TP_MAX_STARTUP_ID_LEN 255u

/* Lists */
#define TP_MAX_CATEGORIES 32u
#define TP_MAX_MIME_TYPES 256u
#define TP_MAX_KEYWORDS 64u
#define TP_MAX_LAUNCH_ARGS 64u
#define TP_MAX_CATALOG_APPS 4096u

/* Images */
#define TP_MAX_APP_ICON_BYTES (1024u * 1024u)  /* PNG, per application */
#define TP_MAX_APP_ICON_DIM 1024u              /* PNG width/height */
#define TP_MAX_WINDOW_ICON_DIM 256u            /* ARGB32 _NET_WM_ICON */

/* Pixels: a DAMAGE message carries at most this many rectangles and this
 * many payload bytes. A larger update is split into several DAMAGE messages
 * with the same frame sequence; the last one carries TP_DAMAGE_FRAME_END. */
#define TP_MAX_DAMAGE_RECTS 256u
#define TP_MAX_DAMAGE_PAYLOAD (16u * 1024u * 1024u)
/* A compressed rectangle may not be larger than this bound of its raw size. */
#define TP_COMPRESSED_BOUND(raw) ((raw) + (raw) / 255u + 64u)
/* Flow control: an agent keeps at most this many frames un-acknowledged.
 * The host acknowledges a frame when it painted it (or when it will not be
 * painted soon): with one in flight the guest captures only frames that
 * will be shown, and damage meanwhile is merged into the next one. */
#define TP_MAX_FRAMES_IN_FLIGHT 1u

/* Stateful limits enforced by the receiving side (not the decoder). */
#define TP_MAX_WINDOWS 1024u

/* Input */
#define TP_MIN_KEYCODE 8u
#define TP_MAX_KEYCODE 255u
#define TP_MAX_BUTTON 32u
