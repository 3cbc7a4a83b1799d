/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "protocol-samples.h"

#include <string.h>

/* 1x1 transparent PNG. */
const uint8_t tp_sample_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
    0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
    0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49,
    0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};
const uint32_t tp_sample_png_len = sizeof(tp_sample_png);

static const char *const categories[] = {"System", "TerminalEmulator"};
static const char *const mimes[] = {"text/plain", "application/x-shellscript",
                                    "inode/directory"};
static const char *const keywords[] = {"shell", "prompt", "Befehl"};
static const char *const launch_args[] = {"/home/user/notes.txt",
                                          "file:///tmp/a%20b.txt"};
static uint8_t icon_argb[4 * 3 * 4];
static uint8_t pixels_a[16 * 8 * 4];
static uint8_t pixels_b[4 * 2 * 4];
static TpRect rects[2];

static void fill(uint8_t *p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(seed + i * 7);
}

TpRole tp_sample_receiver(uint16_t type) {
  switch (type) {
  case TP_MSG_LAUNCH:
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
  case TP_MSG_MOUNT:
  case TP_MSG_UNMOUNT:
    return TP_ROLE_AGENT;
  default:
    return TP_ROLE_HOST;
  }
}

bool tp_sample_message(uint16_t type, TpMessage *m) {
  memset(m, 0, sizeof(*m));
  m->type = type;
  m->window = 0x00a00007;
  switch ((TpMessageType)type) {
  case TP_MSG_HELLO:
    m->window = 0;
    m->u.hello = (TpHello){TP_MAGIC, 1, 1, TP_CAP_LZ4 | TP_CAP_MOUNT,
                           -1920, 0, 3840, 2160, 200, 64,
                           "Debian GNU/Linux 12 (bookworm)",
                           "tandem-agent 0.1.0", "de_DE.UTF-8"};
    return true;
  case TP_MSG_HEARTBEAT:
    m->window = 0;
    m->u.heartbeat = (TpHeartbeat){41, 1, 123456789012345ull, 987654321ull};
    return true;
  case TP_MSG_ERROR:
    m->window = 0;
    m->u.error = (TpErrorMsg){TP_ERR_BAD_WINDOW, TP_MSG_KEY,
                              "window 0xa00007 does not exist"};
    return true;
  case TP_MSG_APP_LIST_BEGIN:
    m->window = 0;
    m->u.app_list_begin = (TpAppListBegin){7, 3};
    return true;
  case TP_MSG_APP_ENTRY:
    m->window = 0;
    m->u.app = (TpAppEntry){
        "org.example.Terminal", "Terminal", "Terminalemulator",
        "Befehlszeile verwenden – “quoted” ✓", "XTerm", TP_APP_TERMINAL,
        {2, categories}, {3, mimes}, {3, keywords},
        {tp_sample_png, sizeof(tp_sample_png)}};
    return true;
  case TP_MSG_APP_REMOVE:
    m->window = 0;
    m->u.app_remove.id = "org.example.Old";
    return true;
  case TP_MSG_APP_LIST_END:
    m->window = 0;
    m->u.app_list_end.generation = 7;
    return true;
  case TP_MSG_LAUNCH:
    m->window = 0;
    m->u.launch = (TpLaunch){99, "org.example.Terminal", "tandem-99_TIME42",
                             {2, launch_args}};
    return true;
  case TP_MSG_LAUNCH_RESULT:
    m->window = 0;
    m->u.launch_result = (TpLaunchResult){99, TP_LAUNCH_EXEC_FAILED, 4242,
                                          "xterm: not found"};
    return true;
  case TP_MSG_WINDOW_CREATE:
    m->u.create = (TpWindowCreate){-20, 35, 640, 480, 0, 0x00a00001, 1,
                                   TP_WINDOW_TYPE_DIALOG};
    return true;
  case TP_MSG_WINDOW_MAP:
  case TP_MSG_WINDOW_UNMAP:
  case TP_MSG_WINDOW_DESTROY:
  case TP_MSG_WINDOW_DESTROY_ACK:
  case TP_MSG_WINDOW_CLOSE:
    return true;
  case TP_MSG_WINDOW_CONFIGURE:
    m->u.configure = (TpWindowConfigure){100, -200, 800, 600, 0x00a00003};
    return true;
  case TP_MSG_WINDOW_TITLE:
    m->u.title.title = "notes.txt – Mousepad ☃";
    return true;
  case TP_MSG_WINDOW_CLASS:
    m->u.wclass = (TpWindowClass){"mousepad", "Mousepad"};
    return true;
  case TP_MSG_WINDOW_ICON:
    fill(icon_argb, sizeof(icon_argb), 3);
    m->u.icon = (TpWindowIcon){4, 3, {icon_argb, sizeof(icon_argb)}};
    return true;
  case TP_MSG_WINDOW_HINTS:
    m->u.hints = (TpWindowHints){TP_HINTS_KNOWN, 100, 50, 4000, 3000, 4, 2,
                                 6, 13, 1, 2, 16, 9, 5};
    return true;
  case TP_MSG_WINDOW_STATE:
    m->u.state.states = TP_STATE_MAXIMIZED_HORZ | TP_STATE_DEMANDS_ATTENTION;
    return true;
  case TP_MSG_DAMAGE:
    fill(pixels_a, sizeof(pixels_a), 1);
    fill(pixels_b, sizeof(pixels_b), 2);
    rects[0] = (TpRect){0, 0, 16, 8, sizeof(pixels_a), pixels_a};
    rects[1] = (TpRect){100, 30, 4, 2, sizeof(pixels_b), pixels_b};
    m->u.damage = (TpDamage){17, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 2,
                             rects};
    return true;
  case TP_MSG_FRAME_ACK:
    m->u.frame_ack = (TpFrameAck){17, 1234};
    return true;
  case TP_MSG_KEY:
    m->u.key = (TpKey){38, 0x61, 0x4, 1, 1000};
    return true;
  case TP_MSG_BUTTON:
    m->u.button = (TpButton){3, 1, 12, -4, 0x1, 2000};
    return true;
  case TP_MSG_MOTION:
    m->u.motion = (TpMotion){320, 240, 0x100, 3000};
    return true;
  case TP_MSG_SCROLL:
    m->u.scroll = (TpScroll){5, 6, 0, -1, 0x8000, -0x18000, 0x4, 4000};
    return true;
  case TP_MSG_CROSSING:
    m->u.crossing = (TpCrossing){1, -1, 7, 0x40, 5000};
    return true;
  case TP_MSG_KEY_STATE:
    m->u.key_state.keys[64 / 8] = 1u << (64 % 8); /* Alt_L */
    m->u.key_state.keys[31] = 0x80;
    m->u.key_state.modifiers = 0x8;
    return true;
  case TP_MSG_FOCUS_SET:
    m->u.focus_set.seq = 1001;
    return true;
  case TP_MSG_FOCUS_REPORT:
    m->u.focus_report = (TpFocusReport){1001, TP_FOCUS_WINDOW};
    return true;
  case TP_MSG_WINDOW_MOVE_RESIZE:
    m->u.move_resize = (TpMoveResize){-5, 10, 1024, 768, TP_MOVE | TP_RESIZE};
    return true;
  case TP_MSG_WINDOW_RESTACK:
    m->u.restack = (TpRestack){0x00a00009, 1};
    return true;
  case TP_MSG_WINDOW_SET_STATE:
    m->u.set_state = (TpSetState){TP_STATE_FULLSCREEN | TP_STATE_HIDDEN,
                                  TP_STATE_HIDDEN};
    return true;
  case TP_MSG_MOUNT:
    m->window = 0;
    m->u.mount = (TpMount){5, "tandem-nbd-1", "shared-data", 1};
    return true;
  case TP_MSG_UNMOUNT:
    m->window = 0;
    m->u.unmount = (TpUnmount){6, "tandem-nbd-1", 1};
    return true;
  case TP_MSG_MOUNT_RESULT:
    m->window = 0;
    m->u.mount_result = (TpMountResult){5, TP_MOUNT_OK,
                                        "/media/tandem/shared-data",
                                        "mounted read-only", "ext4",
                                        UINT64_C(0x123456789a000),
                                        UINT64_C(0x23456789a00)};
    return true;
  }
  return false;
}
