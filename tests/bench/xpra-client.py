#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The Xpra side of bench-pixels: a minimal Xpra client.

    xpra-client.py --socket PATH --out FILE [--seconds S] [--vrefresh HZ]
                   [--all-frames]

Built on Xpra's own client and network modules (Debian's xpra 3.1, run
with Debian's /usr/bin/python3; numpy for painting): the real packet
protocol, packet encoders and compressors, the real hello, map-window,
focus, ping and damage-sequence packets, so the server's flow control
(its batch delay, fed by the acks' timing and decode times, the pings
and the window's focus) is the one a real client gets. It asks for the
"rgb" encoding only (lossless, the closest to Tandem's raw BGRA) and
takes what Xpra's GTK3 client (cairo backing) takes with it: rgb24 and
rgb32 in BGRX, RGBX, BGR or RGB, any enabled compressor (lz4, zlib, ...),
delta frames and scrolling. Like that client it paints every update into
the window's pixels (in memory here: there is no screen to show them on),
then acknowledges it with its decode-and-paint time, and gives the window
the focus, as a user looking at it would. The differences: it paints in
the network thread instead of handing the update to a draw thread and
the GTK main loop, and it does not offer mmap (Xpra's shared-memory path
for a client on the same machine), so both systems are compared over the
same kind of stream socket.

After a batch of updates (the "flush" option reaching 0) it reads the
frame stamp of tandem-bench-anim (bench-stamp.h) from the window; each
new frame is recorded with its draw time (from the stamp), its receive
time (CLOCK_MONOTONIC when its last update arrived, before painting), the
bytes read from the socket so far, and its paint time (CLOCK_MONOTONIC
once that update is decoded, painted into the window's buffer and
acknowledged).

With --all-frames (applications without stamps: xterm, mousepad,
xclock) every batch of updates is a frame, whatever the window shows;
its line names the window instead of a frame number (COUNTER is the
window id, DRAW_NS 0).

Prints "ready" once the server has accepted the connection and
"first RECV_NS" at the first frame (--all-frames: "window WID RECV_NS"
at the first frame of each window). On SIGTERM (or after --seconds)
writes FILE:
    frame COUNTER DRAW_NS RECV_NS WIRE_BYTES PAINT_NS
    info KEY VALUE
and exits 0; on a connection failure it exits non-zero.
"""
import argparse
import os
import signal
import sys
import time

import numpy

STAMP_X, STAMP_Y, STAMP_CELL, STAMP_GRID = 608, 328, 4, 16
STAMP_MAGIC = 0x504D5453


def stamp_checksum(w):
    h = 2166136261
    for i in range(5):
        for b in range(4):
            h = ((h ^ ((w[i] >> (8 * b)) & 0xFF)) * 16777619) & 0xFFFFFFFF
    return h


def read_stamp(fb, stride, bpp):
    """(counter, draw_ns) from a window buffer, or None."""
    w = [0] * 8
    for bit in range(STAMP_GRID * STAMP_GRID):
        cx, cy = bit % STAMP_GRID, bit // STAMP_GRID
        off = (STAMP_Y + cy * STAMP_CELL + 2) * stride + \
            (STAMP_X + cx * STAMP_CELL + 2) * bpp
        if fb[off + 1] > 127:
            w[bit // 32] |= 1 << (bit % 32)
    if w[0] != STAMP_MAGIC or w[5] != stamp_checksum(w):
        return None
    return w[1], w[3] << 32 | w[2]


class Window:
    """A window's pixels: height x width x 4 bytes, whatever the format
    the server chose (the stamp is grey, so channel order is moot)."""

    def __init__(self, wid, w, h):
        self.wid, self.w, self.h = wid, w, h
        self.fb = numpy.zeros((h, w, 4), numpy.uint8)
        self.delta = {}  # bucket -> (w, h, rgb_format, sequence, data)

    def paint(self, x, y, width, height, bpp, rowstride, img):
        w, h = min(width, self.w - x), min(height, self.h - y)
        if w <= 0 or h <= 0:
            return
        src = numpy.frombuffer(img, numpy.uint8, rowstride * height)
        src = src.reshape(height, rowstride)[:h, :w * bpp]
        self.fb[y:y + h, x:x + w, :bpp] = src.reshape(h, w, bpp)

    def scroll(self, scrolls):
        old = self.fb.copy()
        for sx, sy, sw, sh, dx, dy in scrolls:
            self.fb[sy + dy:sy + dy + sh, sx + dx:sx + dx + sw] = \
                old[sy:sy + sh, sx:sx + sw]

    def stamp(self):
        if self.w < STAMP_X + 64 or self.h < STAMP_Y + 64:
            return None
        return read_stamp(self.fb.reshape(-1), self.w * 4, 4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--vrefresh", type=int, default=-1,
                    help="monitor refresh rate to report (-1: unknown, "
                         "the server then assumes 100 Hz)")
    ap.add_argument("--all-frames", action="store_true",
                    help="every batch of updates is a frame (no stamps)")
    args = ap.parse_args()

    from gi.repository import GLib
    from xpra.client.gobject_client_base import GObjectXpraClient
    from xpra.codecs.xor.cyxor import xor_str
    from xpra.net import compression
    from xpra.os_util import bytestostr
    from xpra.scripts.config import make_defaults_struct
    from xpra.scripts.main import connect_to, parse_display_name
    from xpra.util import typedict

    class BenchClient(GObjectXpraClient):
        INSTALL_SIGNAL_HANDLERS = False

        def __init__(self, conn, opts):
            GObjectXpraClient.__init__(self)
            GObjectXpraClient.init(self, opts)
            connection, self.display_desc = conn
            self.setup_connection(connection)
            self._protocol._log_stats = False
            self.windows = {}
            self.frames = []
            self.info = {"draws": 0, "delta": 0, "coding": set(),
                         "rgb_format": set(), "compressor": set()}
            self.last_counter = -1
            self.seen = set()  # --all-frames: windows with a frame
            GLib.idle_add(self.send_hello)

        def client_type(self):
            return "tandem-bench"

        def make_hello(self):
            caps = GObjectXpraClient.make_hello(self)
            enabled = compression.get_enabled_compressors()
            caps.update({
                "windows": True,
                "ui_client": True,
                "keyboard": False,
                "mouse.show": False,
                "cursors": False,
                "bell": False,
                "system_tray": False,
                "notifications": False,
                "clipboard": False,
                "sound.send": False,
                "sound.receive": False,
                "webcam": False,
                "randr_notify": False,
                "desktop_size": (1920, 1080),
                "vrefresh": args.vrefresh,
                "auto_refresh_delay": 150,
                "generic_window_types": True,
                "server-window-resize": True,
                "generic-rgb-encodings": True,
                "encodings": ["rgb"],
                "encodings.core": ["rgb24", "rgb32"],
                "encodings.window-icon": ["premult_argb32"],
                "encodings.cursor": ["raw"],
                "encoding": "rgb",
                "encoding.flush": True,
                "encoding.client_options": True,
                "encoding.rgb24zlib": True,
                "encoding.eos": True,
                "encoding.supports_delta": ["rgb24", "rgb32"],
                "encoding.rgb_formats": ["RGB", "RGBX", "RGBA"],
            })
            for c in compression.ALL_COMPRESSORS:
                caps["encoding.rgb_%s" % c] = c in enabled
            return caps

        def server_connection_established(self):
            if not GObjectXpraClient.server_connection_established(self):
                return False
            sys.stdout.write("ready\n")
            sys.stdout.flush()
            # Like the real client: a ping every 5 s (pings = 5), so the
            # server knows the round trip.
            GLib.timeout_add(5000, self.send_ping)
            self.send_ping()
            return True

        def send_ping(self):
            self.send("ping", int(time.monotonic() * 1000))
            return True

        def init_packet_handlers(self):
            GObjectXpraClient.init_packet_handlers(self)
            self.add_packet_handler("draw", self._process_draw, False)
            self.add_packet_handler("new-window", self._process_new_window)
            self.add_packet_handler("lost-window", self._process_lost_window)
            self.add_packet_handler("window-resized", self._process_resized)
            self.add_packet_handler("ping", self._process_ping)
            self.add_packet_handler("ping_echo", lambda packet: None)

        def process_packet(self, proto, packet):
            t = bytestostr(packet[0])
            if t in self._packet_handlers or t in self._ui_packet_handlers:
                GObjectXpraClient.process_packet(self, proto, packet)
            # Everything else (metadata, icons, cursors, events) is not
            # needed to receive pixels.

        def _process_ping(self, packet):
            try:
                l1, l2, l3 = (int(x * 1000) for x in os.getloadavg())
            except OSError:
                l1 = l2 = l3 = 0
            self.send("ping_echo", packet[1], l1, l2, l3, -1)

        def _process_new_window(self, packet):
            wid, x, y, w, h = packet[1:6]
            self.windows[wid] = Window(wid, w, h)
            # What Xpra's GTK3 client (cairo backing, no alpha) says about
            # its windows, less the pixel formats this client cannot read
            # the stamp from (r210, BGR565: 30 and 16 bit displays only).
            props = {"encodings.rgb_formats": ["BGRX", "RGBX", "BGR", "RGB"],
                     "encoding.transparency": False,
                     "encoding.send-window-size": True,
                     "encoding.scrolling": True}
            self.send("map-window", wid, x, y, w, h, props, {})
            # The window the user looks at has the focus: Xpra batches
            # less for it.
            self.send("focus", wid, [])

        def _process_lost_window(self, packet):
            self.windows.pop(packet[1], None)

        def _process_resized(self, packet):
            wid, w, h = packet[1:4]
            win = self.windows.get(wid)
            if win:
                self.windows[wid] = Window(wid, w, h)

        def _process_draw(self, packet):
            recv_ns = time.monotonic_ns()
            wid = packet[1]
            x, y, width, height, coding, data, seq, rowstride = packet[2:10]
            options = typedict(packet[10] if len(packet) > 10 else {})
            coding = bytestostr(coding)
            win = self.windows.get(wid)
            if not win:
                self.send_now("damage-sequence", seq, wid, width, height, -1, "")
                return
            start = time.monotonic()
            self.info["draws"] += 1
            self.info["coding"].add(coding)
            if coding == "scroll":
                # Rows that moved: copied within the buffer, as the
                # cairo backing does.
                win.scroll(data)
                self.send_now("damage-sequence", seq, wid, width, height,
                              int((time.monotonic() - start) * 1e6), "")
                self.check_frame(win, options, recv_ns)
                return
            if coding not in ("rgb24", "rgb32"):
                self.send_now("damage-sequence", seq, wid, width, height, -1,
                              "unsupported encoding %s" % coding)
                return
            rgb_format = options.strget("rgb_format") or \
                {"rgb24": "RGB", "rgb32": "RGBX"}[coding]
            self.info["rgb_format"].add(rgb_format)
            bpp = len(rgb_format)
            if not rowstride:
                rowstride = width * bpp
            # Decompression and delta frames, as Xpra's
            # WindowBackingBase.process_delta does them.
            img = data
            comp = [c for c in compression.ALL_COMPRESSORS
                    if options.intget(c, 0)]
            if comp:
                self.info["compressor"].add(comp[0])
                img = compression.decompress_by_name(data, algo=comp[0])
            delta = options.intget("delta", -1)
            bucket = options.intget("bucket", 0)
            if delta >= 0:
                self.info["delta"] += 1
                lw, lh, lfmt, lseq, ldata = win.delta[bucket]
                assert (lw, lh, lfmt, lseq) == (width, height, rgb_format,
                                                delta)
                img = xor_str(img, ldata)
            store = options.intget("store", -1)
            if store >= 0:
                win.delta[bucket] = (width, height, rgb_format, store, img)
            win.paint(x, y, width, height, bpp, rowstride, img)
            decode_us = int((time.monotonic() - start) * 1e6)
            self.send_now("damage-sequence", seq, wid, width, height,
                          decode_us, "")
            self.check_frame(win, options, recv_ns)

        def check_frame(self, win, options, recv_ns):
            """At the end of a batch of updates, reads the stamp."""
            if args.all_frames:
                if options.intget("flush", 0) == 0:
                    self.frames.append((win.wid, 0, recv_ns,
                                        self._protocol._conn.input_bytecount,
                                        time.monotonic_ns()))
                    if win.wid not in self.seen:
                        self.seen.add(win.wid)
                        sys.stdout.write("window %d %d\n" % (win.wid,
                                                              recv_ns))
                        sys.stdout.flush()
                return
            if options.intget("flush", 0) == 0:
                painted_ns = time.monotonic_ns()
                s = win.stamp()
                if s and s[0] > self.last_counter:
                    self.last_counter = s[0]
                    self.frames.append((s[0], s[1], recv_ns,
                                        self._protocol._conn.input_bytecount,
                                        painted_ns))
                    if len(self.frames) == 1:
                        sys.stdout.write("first %d\n" % recv_ns)
                        sys.stdout.flush()

        def write_results(self, path):
            with open(path + ".tmp", "w") as f:
                for fr in self.frames:
                    f.write("frame %d %d %d %d %d\n" % fr)
                for k, v in self.info.items():
                    if isinstance(v, set):
                        v = ",".join(sorted(v)) or "none"
                    f.write("info %s %s\n" % (k, v))
                f.write("info compression_level %d\n" % opts.compression_level)
            os.replace(path + ".tmp", path)

    opts = make_defaults_struct()
    opts.encoding = "rgb"
    opts.encodings = ["rgb"]

    def error_cb(msg):
        raise SystemExit("xpra-client: %s" % msg)

    desc = parse_display_name(error_cb, opts, "socket:%s" % args.socket)
    app = BenchClient((connect_to(desc, opts), desc), opts)

    def finish(*_args):
        app.write_results(args.out)
        app.exit_code = 0
        app.cleanup()
        app.glib_mainloop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, finish)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, finish)
    GLib.timeout_add(int(args.seconds * 1000), finish)
    app.run()
    return app.exit_code or 0


if __name__ == "__main__":
    sys.exit(main())
