/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hostile-agent SOCKET ATTACK [N]: a guest agent that speaks the protocol
 * correctly and still tries to hurt the host (issue 10), for
 * test-hostile.sh and bench-hostile.sh. It connects to a shell's
 * --loopback socket, says HELLO, makes its attack, then waits for the host
 * to cut it off.
 *
 * ATTACK "good" is the well-behaved guest of bench-hostile.sh instead: one
 * 640x480 window, a 256x256 frame every 16 ms, each sent once the previous
 * was acknowledged (painted); for N seconds; then it prints
 * "good FRAMES P50_MS P99_MS MAX_MS" (send to acknowledgement) and exits 0.
 *
 * Prints "attacked" once the attack is sent, then "cut" when the host
 * closed the connection. Exits 0 when cut, 3 when still connected after
 * HOLD seconds (TANDEM_HOSTILE_HOLD, default 60), 2 on usage or a local
 * error. While it waits it reads (and drops) what the host sends, except
 * in the "noread" attack. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tandem-protocol.h"

static int fd = -1;
static int cut;
static TpReader *reader;      /* "good" only: what the host sends, parsed */
static uint32_t acked;        /* the newest frame acknowledged */
/* A heartbeat to answer once the message being sent is out (never in the
 * middle of it). */
static int pong_due;
static TpHeartbeat pong;

static void die(const char *what) {
  fprintf(stderr, "hostile-agent: %s: %s\n", what, strerror(errno));
  exit(2);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_msg(const TpMessage *m, int reading);

/* "good": answers heartbeats, notes acknowledgements. */
static void parse(const char *buf, size_t n) {
  tp_reader_feed(reader, buf, n);
  TpMessage m;
  TpError err;
  while ((err = tp_reader_next(reader, &m)) == TP_OK) {
    if (m.type == TP_MSG_HEARTBEAT && !m.u.heartbeat.reply) {
      pong = (TpHeartbeat){m.u.heartbeat.seq, 1, 1, m.u.heartbeat.sent_ns};
      pong_due = 1;
    } else if (m.type == TP_MSG_FRAME_ACK &&
               m.u.frame_ack.frame_seq > acked) {
      acked = m.u.frame_ack.frame_seq;
    }
  }
  if (err != TP_AGAIN) {
    fprintf(stderr, "hostile-agent: bad frame from the host: %s\n",
            tp_error_to_string(err));
    exit(2);
  }
}

/* Drops (or, for "good", parses) what the host sent so far; notices a
 * hang-up. */
static void drain(int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  while (!cut && poll(&p, 1, timeout_ms) > 0) {
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      cut = 1;
      return;
    }
    if (n > 0 && reader)
      parse(buf, (size_t)n);
    timeout_ms = 0;
  }
}

/* Sends @m whole; reads meanwhile unless @reading is 0. */
static void send_msg(const TpMessage *m, int reading) {
  if (cut)
    return;
  TpBuf b;
  tp_buf_init(&b);
  if (tp_encode(m, &b) != TP_OK) {
    fprintf(stderr, "hostile-agent: cannot encode %s\n",
            tp_message_type_name(m->type));
    exit(2);
  }
  size_t off = 0;
  while (off < b.len && !cut) {
    struct pollfd p[1] = {{fd, POLLOUT | (reading ? POLLIN : 0), 0}};
    if (poll(p, 1, 10000) <= 0)
      continue; /* the host is slow: wait on */
    if (p[0].revents & (POLLERR | POLLHUP)) {
      cut = 1;
      break;
    }
    if (p[0].revents & POLLIN)
      drain(0);
    if (!(p[0].revents & POLLOUT))
      continue;
    ssize_t n = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
    if (n > 0)
      off += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
      cut = 1;
  }
  tp_buf_clear(&b);
  if (pong_due) {
    pong_due = 0;
    TpMessage m2 = {.type = TP_MSG_HEARTBEAT};
    m2.u.heartbeat = pong;
    send_msg(&m2, 0);
  }
}

static void hello(void) {
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, 1,
                        TP_CAP_WM | TP_CAP_COPY, 0, 0,
                        1280, 800, 100, 0, "Hostile OS", "hostile-agent", ""};
  send_msg(&m, 1);
}

static void create_at(uint32_t id, int32_t x, int32_t y, uint32_t w,
                      uint32_t h, int popup, uint32_t parent) {
  TpMessage m = {.type = TP_MSG_WINDOW_CREATE, .window = id};
  m.u.create = (TpWindowCreate){x, y, w, h, 0, parent, (uint8_t)popup,
                                popup ? TP_WINDOW_TYPE_MENU
                                      : TP_WINDOW_TYPE_NORMAL};
  send_msg(&m, 1);
  m = (TpMessage){.type = TP_MSG_WINDOW_MAP, .window = id};
  send_msg(&m, 1);
}

static void create(uint32_t id, uint32_t w, uint32_t h, int popup) {
  create_at(id, 0, 0, w, h, popup, 0);
}

/* A small red square at the window's origin: enough to need its pixels. */
static void damage(uint32_t id, uint32_t seq) {
  static uint8_t px[16 * 16 * 4];
  for (size_t i = 0; i < sizeof(px); i += 4) {
    px[i] = 0;
    px[i + 1] = 0;
    px[i + 2] = 0xff;
    px[i + 3] = 0xff;
  }
  TpRect r = {0, 0, 16, 16, sizeof(px), px};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = id};
  m.u.damage = (TpDamage){seq, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 1, &r};
  send_msg(&m, 1);
}

/* A copy within window @id of the @w x @h pixels at @sx,@sy to @x,@y. */
static void copy_rect(uint32_t id, uint32_t seq, uint16_t x, uint16_t y,
                      uint16_t w, uint16_t h, uint16_t sx, uint16_t sy) {
  uint8_t ref[TP_COPY_REF_SIZE];
  tp_copy_ref_write(ref, &(TpCopyRef){sx, sy});
  TpRect r = {x, y, w, h, TP_COPY_REF_SIZE, ref};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = id};
  m.u.damage = (TpDamage){seq, TP_ENCODING_COPY, TP_DAMAGE_FRAME_END, 1, &r};
  send_msg(&m, 1);
}

/* All of a @w x @h window in one colour (BGRA bytes @b, @g, @r). */
static void fill(uint32_t id, uint32_t seq, uint16_t w, uint16_t h, uint8_t b,
                 uint8_t g, uint8_t r) {
  size_t len = (size_t)w * h * 4;
  uint8_t *px = malloc(len);
  if (!px)
    die("malloc");
  for (size_t i = 0; i < len; i += 4) {
    px[i] = b;
    px[i + 1] = g;
    px[i + 2] = r;
    px[i + 3] = 0xff;
  }
  TpRect rect = {0, 0, w, h, (uint32_t)len, px};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = id};
  m.u.damage = (TpDamage){seq, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 1, &rect};
  send_msg(&m, 1);
  free(px);
}

static void set_state(uint32_t id, uint32_t states) {
  TpMessage m = {.type = TP_MSG_WINDOW_STATE, .window = id};
  m.u.state.states = states;
  send_msg(&m, 1);
}

/* An application entry, with a PNG-looking icon of @icon_bytes. */
static void app_entry(const char *id, const char *name, size_t icon_bytes) {
  static uint8_t *icon;
  static size_t icon_len;
  if (icon_bytes && icon_len != icon_bytes) {
    static const uint8_t head[24] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a,
                                     0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                     0, 0, 0, 64, 0, 0, 0, 64};
    free(icon);
    icon = calloc(1, icon_bytes);
    if (!icon)
      die("calloc");
    memcpy(icon, head, sizeof(head));
    icon_len = icon_bytes;
  }
  TpMessage m = {.type = TP_MSG_APP_ENTRY};
  m.u.app = (TpAppEntry){.id = id, .name = name, .generic_name = "",
                         .comment = "", .startup_wm_class = ""};
  if (icon_bytes) {
    m.u.app.icon_png.data = icon;
    m.u.app.icon_png.len = (uint32_t)icon_bytes;
  }
  send_msg(&m, 1);
}

static void catalog(uint32_t count, size_t icon_bytes) {
  TpMessage m = {.type = TP_MSG_APP_LIST_BEGIN};
  m.u.app_list_begin = (TpAppListBegin){1, count};
  send_msg(&m, 1);
  for (uint32_t i = 0; i < count && !cut; i++) {
    char id[32];
    snprintf(id, sizeof(id), "hostile%u", i);
    app_entry(id, "Hostile", icon_bytes);
  }
  m = (TpMessage){.type = TP_MSG_APP_LIST_END};
  m.u.app_list_end.generation = 1;
  send_msg(&m, 1);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The well-behaved guest: frames paced by their acknowledgements. */
static void good(unsigned seconds) {
  reader = tp_reader_new(TP_ROLE_AGENT);
  hello();
  create(1, 640, 480, 0);
  static uint8_t px[256 * 256 * 4];
  size_t cap = (size_t)seconds * 70 + 16, count = 0;
  double *lat = calloc(cap, sizeof(double));
  if (!lat)
    die("calloc");
  double end = now_s() + seconds;
  for (uint32_t seq = 1; !cut && now_s() < end && count < cap; seq++) {
    double start = now_s();
    memset(px, (int)(seq * 37), sizeof(px)); /* a new picture each time */
    TpRect r = {(uint16_t)(seq % 384), 0, 256, 256, sizeof(px), px};
    TpMessage m = {.type = TP_MSG_DAMAGE, .window = 1};
    m.u.damage = (TpDamage){seq, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 1,
                            &r};
    send_msg(&m, 1);
    while (!cut && acked < seq && now_s() < end)
      drain(5);
    if (acked >= seq)
      lat[count++] = (now_s() - start) * 1000;
    double next = start + 0.016;
    while (!cut && now_s() < next)
      drain((int)((next - now_s()) * 1000) + 1);
  }
  qsort(lat, count, sizeof(double), by_value);
  printf("good %zu %.2f %.2f %.2f\n", count,
         count ? lat[count / 2] : 0.0,
         count ? lat[(size_t)((double)(count - 1) * 0.99)] : 0.0,
         count ? lat[count - 1] : 0.0);
  free(lat);
  exit(cut ? 1 : 0);
}

static void attack(const char *what, unsigned n) {
  if (!strcmp(what, "good")) {
    good(n);
  } else if (!strcmp(what, "rehello")) {
    /* An agent "restarting" on the same connection, its windows anew. */
    for (int round = 0; round < 3; round++) {
      hello();
      for (uint32_t id = 1; id <= n; id++)
        create(id, 64, 48, 0);
    }
  } else if (!strcmp(what, "huge")) {
    /* Window after window of 8192x8192, each with pixels. */
    hello();
    for (uint32_t id = 1; id <= n && !cut; id++) {
      create(id, 8192, 8192, 0);
      damage(id, id);
    }
  } else if (!strcmp(what, "noread")) {
    /* Asks for answers and never reads them. */
    hello();
    double end = now_s() + 60;
    for (uint32_t seq = 1; !cut && now_s() < end; seq++) {
      TpMessage m = {.type = TP_MSG_HEARTBEAT};
      m.u.heartbeat = (TpHeartbeat){seq, 0, 1, 0};
      send_msg(&m, 0);
    }
  } else if (!strcmp(what, "catalog")) {
    /* Thousands of applications with the largest icons allowed. */
    hello();
    catalog(n, TP_MAX_APP_ICON_BYTES);
  } else if (!strcmp(what, "catalog-storm")) {
    /* A catalog, then one change after another. */
    hello();
    catalog(20, 0);
    for (unsigned i = 0; i < n && !cut; i++) {
      char name[32];
      snprintf(name, sizeof(name), "Hostile %u", i);
      app_entry("hostile0", name, 0);
    }
  } else if (!strcmp(what, "resize-storm")) {
    /* One window, resized again and again, each time with pixels. */
    hello();
    create(1, 8192, 8192, 0);
    for (unsigned i = 0; i < n && !cut; i++) {
      TpMessage m = {.type = TP_MSG_WINDOW_CONFIGURE, .window = 1};
      m.u.configure = (TpWindowConfigure){0, 0, 4096 + (i % 2) * 4096,
                                          4096 + (i % 3) * 2048, 0};
      send_msg(&m, 1);
      damage(1, i + 1);
    }
  } else if (!strcmp(what, "cover")) {
    /* A menu and a keep-above window, each as large as a window can be,
     * at the screen's corner. */
    hello();
    create(1, 8192, 8192, 1);
    damage(1, 1);
    create(2, 8192, 8192, 0);
    set_state(2, TP_STATE_ABOVE);
    damage(2, 1);
  } else if (!strcmp(what, "stray")) {
    /* A menu of a window, placed far from it. */
    hello();
    create_at(1, 100, 100, 400, 300, 0, 0);
    damage(1, 1);
    create_at(2, 1100, 700, 120, 80, 1, 1);
    damage(2, 1);
  } else if (!strcmp(what, "copy")) {
    /* Copies within a window from anywhere to anywhere, overlapping,
     * from far outside what the host has; then one that means something:
     * a blue window, its red square at the corner copied to 200,150. */
    hello();
    create_at(1, 100, 100, 400, 300, 0, 0);
    damage(1, 1);
    uint32_t seed = 12345, seq = 2;
    for (unsigned i = 0; i < n && !cut; i++, seq++) {
      uint16_t v[6];
      for (int k = 0; k < 6; k++) {
        seed = seed * 1103515245u + 12345u;
        v[k] = (uint16_t)((seed >> 8) % 8192u);
      }
      uint16_t w = (uint16_t)(1 + v[2] % (8192u - v[0]));
      uint16_t h = (uint16_t)(1 + v[3] % (8192u - v[1]));
      uint16_t sx = (uint16_t)(v[4] % (8193u - w));
      uint16_t sy = (uint16_t)(v[5] % (8193u - h));
      copy_rect(1, seq, v[0], v[1], w, h, sx, sy);
    }
    fill(1, seq++, 400, 300, 0xff, 0, 0);
    damage(1, seq++);
    copy_rect(1, seq++, 200, 150, 16, 16, 0, 0);
  } else if (!strcmp(what, "fullscreen")) {
    /* Every window asks for the whole screen at once. */
    hello();
    for (uint32_t id = 1; id <= n; id++) {
      create(id, 640, 480, 0);
      set_state(id, TP_STATE_FULLSCREEN);
    }
  } else if (!strcmp(what, "logflood")) {
    /* Error reports, as fast as they go. */
    hello();
    for (unsigned i = 0; i < n && !cut; i++) {
      TpMessage m = {.type = TP_MSG_ERROR};
      m.u.error = (TpErrorMsg){1, 0, "hostile agent reporting an error"};
      send_msg(&m, 1);
    }
  } else {
    fprintf(stderr, "hostile-agent: unknown attack %s\n", what);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: hostile-agent SOCKET ATTACK [N]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  unsigned n = argc == 4 ? (unsigned)strtoul(argv[3], NULL, 10) : 100;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
    fprintf(stderr, "hostile-agent: socket path too long\n");
    return 2;
  }
  strcpy(sa.sun_path, argv[1]);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    die("connect");
  attack(argv[2], n);
  printf("attacked\n");
  fflush(stdout);
  const char *hold = getenv("TANDEM_HOSTILE_HOLD");
  double end = now_s() + (hold ? atof(hold) : 60);
  int reading = strcmp(argv[2], "noread") != 0;
  while (!cut && now_s() < end) {
    if (reading) {
      drain(200);
    } else {
      struct pollfd p = {fd, 0, 0}; /* hang-ups only */
      if (poll(&p, 1, 200) > 0 && (p.revents & (POLLHUP | POLLERR)))
        cut = 1;
    }
  }
  if (cut)
    printf("cut\n");
  return cut ? 0 : 3;
}
