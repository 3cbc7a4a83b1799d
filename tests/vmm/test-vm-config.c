/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VM configuration files and the QEMU command line built from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "tandem-qemu-argv.h"
#include "tandem-vm-config.h"

#define KERNEL_BOOT "[Boot]\nKernel=/boot/vmlinuz\n"

static TandemVmConfig *parse_ok(const char *data) {
  g_autoptr(GError) error = NULL;
  TandemVmConfig *c = tandem_vm_config_parse("test", data, "/data/test",
                                             &error);
  if (!c)
    fail_msg("parse failed: %s", error->message);
  return c;
}

/* The message must say what is wrong, precisely enough to fix it. */
static void parse_fails(const char *data, const char *message_part) {
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemVmConfig) c = tandem_vm_config_parse("test", data,
                                                       "/data/test", &error);
  assert_null(c);
  assert_true(g_error_matches(error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_CONFIG));
  if (!strstr(error->message, message_part))
    fail_msg("message \"%s\" lacks \"%s\"", error->message, message_part);
  assert_true(g_str_has_prefix(error->message, "test.conf: ") ||
              strstr(message_part, "VM name"));
}

static void test_defaults(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok(KERNEL_BOOT);
  assert_int_equal(c->memory, 1ull << 30);
  assert_int_equal(c->cpus, 2);
  assert_int_equal(c->accel, TANDEM_ACCEL_AUTO);
  assert_int_equal(c->display, TANDEM_DISPLAY_SPICE);
  assert_int_equal(c->hotplug_ports, 4);
  assert_false(c->save_on_stop);
  assert_string_equal(c->kernel, "/boot/vmlinuz");
  assert_null(c->image);
  assert_int_equal(c->disks->len, 0);
}

static void test_full(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok(
      "[VM]\nMemory=2G\nCPUs=4\nAccelerator=TCG\nDisplay=none\n"
      "HotplugPorts=2\nSaveOnStop=true\n"
      "[Boot]\nKernel=vmlinuz\nInitrd=initrd.img\n"
      "CommandLine=console=ttyS0 quiet\n"
      "[Disk home]\nPath=/srv/home.qcow2\n"
      "[Disk iso_1]\nPath=media.raw\nFormat=raw\nReadOnly=true\n");
  assert_int_equal(c->memory, 2ull << 30);
  assert_int_equal(c->cpus, 4);
  assert_int_equal(c->accel, TANDEM_ACCEL_TCG);
  assert_int_equal(c->display, TANDEM_DISPLAY_NONE);
  assert_int_equal(c->hotplug_ports, 2);
  assert_true(c->save_on_stop);
  assert_string_equal(c->kernel, "/data/test/vmlinuz"); /* relative */
  assert_string_equal(c->initrd, "/data/test/initrd.img");
  assert_string_equal(c->cmdline, "console=ttyS0 quiet");
  assert_int_equal(c->disks->len, 2);
  TandemVmDisk *home = c->disks->pdata[0], *iso = c->disks->pdata[1];
  assert_string_equal(home->name, "home");
  assert_string_equal(home->format, "qcow2");
  assert_false(home->read_only);
  assert_string_equal(iso->path, "/data/test/media.raw");
  assert_string_equal(iso->format, "raw");
  assert_true(iso->read_only);
}

static void test_image_boot(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok("[Boot]\nImage=/vm/disk.img\n"
                                         "ImageFormat=raw\n");
  assert_string_equal(c->image, "/vm/disk.img");
  assert_string_equal(c->image_format, "raw");
  assert_null(c->kernel);
}

static void test_errors(void **state) {
  (void)state;
  parse_fails("[VM]\nMemroy=1G\n" KERNEL_BOOT, "unknown key “Memroy” in [VM]");
  parse_fails("[Network]\nMode=nat\n" KERNEL_BOOT, "unknown section [Network]");
  parse_fails("[VM]\nMemory=lots\n" KERNEL_BOOT,
              "Memory “lots” is not a size");
  parse_fails("[VM]\nMemory=32M\n" KERNEL_BOOT, "out of range");
  parse_fails("[VM]\nCPUs=0\n" KERNEL_BOOT, "from 1 to 64");
  parse_fails("[VM]\nCPUs=two\n" KERNEL_BOOT, "CPUs “two”");
  parse_fails("[VM]\nAccelerator=fast\n" KERNEL_BOOT, "auto, kvm, tcg");
  parse_fails("[VM]\nDisplay=vnc\n" KERNEL_BOOT, "spice, none");
  parse_fails("[VM]\nHotplugPorts=99\n" KERNEL_BOOT, "from 0 to 16");
  parse_fails("[VM]\nSaveOnStop=perhaps\n" KERNEL_BOOT, "true or false");
  parse_fails(KERNEL_BOOT "[Snapshots]\nEvery=often\n", "not a duration");
  parse_fails(KERNEL_BOOT "[Snapshots]\nEvery=1s\n", "at least 2 s");
  parse_fails(KERNEL_BOOT "[Snapshots]\nKeep=0\n", "Keep");
  parse_fails(KERNEL_BOOT "[Snapshots]\nWhen=now\n", "When");
  parse_fails("[VM]\nMemory=1G\n", "no [Boot] section");
  parse_fails("[Boot]\nKernel=/k\nImage=/i\n", "both Kernel= and Image=");
  parse_fails("[Boot]\nCommandLine=quiet\n", "needs Kernel= or Image=");
  parse_fails("[Boot]\nImage=/i\nInitrd=/r\n", "need a Kernel=");
  parse_fails("[Boot]\nImage=/i\nImageFormat=vmdk\n", "qcow2, raw");
  parse_fails(KERNEL_BOOT "[Disk Home]\nPath=/h\n", "disk name “Home”");
  parse_fails(KERNEL_BOOT "[Disk home]\nFormat=raw\n", "[Disk home] needs Path=");
  parse_fails(KERNEL_BOOT "[Disk home]\nPath=/h\nReadOnly=maybe\n",
              "true or false");
  parse_fails("this is not a key file", "test.conf: ");
}

static void test_bad_vm_name(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  assert_null(tandem_vm_config_parse("../etc", KERNEL_BOOT, "/d", &error));
  assert_non_null(strstr(error->message, "not a valid VM name"));
}

static void test_missing_files(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok("[Boot]\nKernel=/nonexistent/vmlinuz\n");
  g_autoptr(GError) error = NULL;
  assert_false(tandem_vm_config_check_files(c, &error));
  assert_non_null(strstr(error->message,
                         "the kernel /nonexistent/vmlinuz does not exist"));
}

static void test_save_load_roundtrip(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("vmconf-XXXXXX", NULL);
  g_autoptr(TandemVmConfig) c = parse_ok(
      "[VM]\nMemory=1536M\nCPUs=3\nAccelerator=kvm\nSaveOnStop=true\n"
      "[Boot]\nKernel=/k\nCommandLine=a=b c\n"
      "[Disk data]\nPath=/d.qcow2\nReadOnly=true\n");
  g_autoptr(GError) error = NULL;
  assert_true(tandem_vm_config_save(c, dir, &error));
  g_autoptr(TandemVmConfig) back = tandem_vm_config_load(dir, "test", &error);
  assert_non_null(back);
  assert_int_equal(back->memory, 1536ull << 20);
  assert_int_equal(back->cpus, 3);
  assert_int_equal(back->accel, TANDEM_ACCEL_KVM);
  assert_true(back->save_on_stop);
  assert_string_equal(back->cmdline, "a=b c");
  assert_true(((TandemVmDisk *)back->disks->pdata[0])->read_only);
  g_autofree char *path = g_build_filename(dir, "test.conf", NULL);
  GStatBuf st;
  assert_int_equal(g_stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  g_unlink(path);
  g_rmdir(dir);

  assert_null(tandem_vm_config_load("/nonexistent", "nope", &error));
  assert_true(g_error_matches(error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_NOT_FOUND));
}

static void test_snapshot_schedule(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) off = parse_ok(KERNEL_BOOT);
  assert_int_equal(off->snapshot_every, 0);
  assert_int_equal(off->snapshot_keep, TANDEM_VM_DEFAULT_SNAPSHOT_KEEP);
  g_autoptr(TandemVmConfig) c = parse_ok(
      KERNEL_BOOT "[Snapshots]\nEvery=30m\nKeep=5\nMaxAge=7d\n");
  assert_int_equal(c->snapshot_every, 1800);
  assert_int_equal(c->snapshot_keep, 5);
  assert_int_equal(c->snapshot_max_age, 7 * 86400);
  g_autofree char *text = tandem_vm_config_to_data(c);
  assert_non_null(strstr(text, "Every=30m"));
  assert_non_null(strstr(text, "MaxAge=7d"));
  g_autoptr(TandemVmConfig) back = parse_ok(text);
  assert_int_equal(back->snapshot_every, 1800);
  assert_int_equal(back->snapshot_keep, 5);
  /* Turned off, the schedule keeps its Keep and MaxAge for next time. */
  c->snapshot_every = 0;
  g_autofree char *off_text = tandem_vm_config_to_data(c);
  assert_null(strstr(off_text, "Every="));
  g_autoptr(TandemVmConfig) off_back = parse_ok(off_text);
  assert_int_equal(off_back->snapshot_every, 0);
  assert_int_equal(off_back->snapshot_keep, 5);
  assert_int_equal(off_back->snapshot_max_age, 7 * 86400);
  /* How they are taken. */
  assert_int_equal(off->snapshot_how, TANDEM_SNAPSHOT_HOW_AUTO);
  g_autoptr(TandemVmConfig) live =
      parse_ok(KERNEL_BOOT "[Snapshots]\nMethod=live\n");
  assert_int_equal(live->snapshot_how, TANDEM_SNAPSHOT_HOW_LIVE);
  g_autofree char *live_text = tandem_vm_config_to_data(live);
  assert_non_null(strstr(live_text, "Method=live"));
  g_autoptr(TandemVmConfig) paused =
      parse_ok(KERNEL_BOOT "[Snapshots]\nMethod=Paused\n");
  assert_int_equal(paused->snapshot_how, TANDEM_SNAPSHOT_HOW_PAUSED);
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemVmConfig) bad = tandem_vm_config_parse(
      "vm", KERNEL_BOOT "[Snapshots]\nMethod=fast\n", "/", &error);
  assert_null(bad);
  assert_non_null(strstr(error->message, "auto, live, paused"));
  /* The queue and the compression. */
  g_autoptr(TandemVmConfig) q = parse_ok(
      KERNEL_BOOT "[Snapshots]\nQueueSize=1G\nCompression=-3\n");
  assert_int_equal(q->snapshot_queue, 1ull << 30);
  assert_true(q->snapshot_compression_set);
  assert_int_equal(q->snapshot_compression, -3);
  g_autofree char *q_text = tandem_vm_config_to_data(q);
  assert_non_null(strstr(q_text, "QueueSize=1024M"));
  assert_non_null(strstr(q_text, "Compression=-3"));
  assert_false(off->snapshot_compression_set);
  assert_int_equal(off->snapshot_queue, 0);
  const char *bad_values[] = {"QueueSize=1M", "QueueSize=lots",
                              "QueueSize=17G", "Compression=20",
                              "Compression=-6", "Compression=fast"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad_values); i++) {
    g_autofree char *bad_text =
        g_strdup_printf(KERNEL_BOOT "[Snapshots]\n%s\n", bad_values[i]);
    g_autoptr(GError) e = NULL;
    g_autoptr(TandemVmConfig) none =
        tandem_vm_config_parse("vm", bad_text, "/", &e);
    if (none)
      fail_msg("%s was accepted", bad_values[i]);
    assert_non_null(strstr(e->message, "[Snapshots]"));
  }
  /* Nothing set: no [Snapshots] written. */
  g_autofree char *plain = tandem_vm_config_to_data(off);
  assert_null(strstr(plain, "[Snapshots]"));
  /* Durations. */
  guint64 s;
  assert_true(tandem_parse_duration("90", &s) && s == 90);
  assert_true(tandem_parse_duration("2h", &s) && s == 7200);
  assert_false(tandem_parse_duration("2 h", &s));
  assert_false(tandem_parse_duration("-5m", &s));
  assert_false(tandem_parse_duration("5mm", &s));
  assert_false(tandem_parse_duration("99999999999999d", &s));
  g_autofree char *d = tandem_format_duration(90);
  assert_string_equal(d, "90s");
}

static void test_sizes(void **state) {
  (void)state;
  struct {
    const char *text;
    guint64 bytes;
  } ok[] = {{"512M", 512ull << 20}, {"2G", 2ull << 30}, {"1.5G", 3ull << 29},
            {"2GiB", 2ull << 30},   {"64m", 64ull << 20}, {"4096", 4096},
            {"1T", 1ull << 40},     {"10KB", 10240}};
  for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
    guint64 b = 0;
    assert_true(tandem_parse_size(ok[i].text, &b));
    assert_int_equal(b, ok[i].bytes);
  }
  const char *bad[] = {"", "G", "-1G", "1X", "1GG", "lots", "1 G", NULL};
  for (int i = 0; bad[i]; i++) {
    guint64 b;
    assert_false(tandem_parse_size(bad[i], &b));
  }
}

/* --- argv ----------------------------------------------------------------- */

static GStrv build(const char *data, TandemAccel accel, const char *rundir) {
  g_autoptr(TandemVmConfig) c = parse_ok(data);
  /* As Tandem runs a QEMU that has seccomp: sandboxed. */
  TandemQemuLaunch l = {"qemu-system-x86_64", rundir, accel, FALSE, FALSE,
                        TRUE};
  return tandem_qemu_argv_build(c, &l);
}

/* The value following option @opt whose value contains @part. */
static const char *find_opt(GStrv argv, const char *opt, const char *part) {
  for (int i = 0; argv[i] && argv[i + 1]; i++)
    if (g_str_equal(argv[i], opt) && strstr(argv[i + 1], part))
      return argv[i + 1];
  return NULL;
}

static int count_opt(GStrv argv, const char *opt, const char *part) {
  int n = 0;
  for (int i = 0; argv[i] && argv[i + 1]; i++)
    n += g_str_equal(argv[i], opt) && strstr(argv[i + 1], part);
  return n;
}

static void test_argv_kernel_tcg(void **state) {
  (void)state;
  g_auto(GStrv) a = build("[Boot]\nKernel=/k\nInitrd=/i\nCommandLine=quiet\n",
                          TANDEM_ACCEL_TCG, "/run/user/0/tandem/test");
  assert_string_equal(a[0], "qemu-system-x86_64");
  assert_non_null(find_opt(a, "-sandbox", "on,"));
  assert_non_null(find_opt(a, "-machine", "q35"));
  assert_non_null(find_opt(a, "-accel", "tcg"));
  assert_non_null(find_opt(a, "-cpu", "max"));
  assert_non_null(find_opt(a, "-m", "1024M"));
  assert_non_null(find_opt(a, "-smp", "2"));
  assert_true(g_strv_contains((const char *const *)a, "-nodefaults"));
  assert_false(g_strv_contains((const char *const *)a, "-S"));
  assert_non_null(find_opt(a, "-nic", "none"));
  assert_non_null(find_opt(a, "-chardev",
                           "path=/run/user/0/tandem/test/qmp.sock,server=on"));
  assert_non_null(find_opt(a, "-mon", "chardev=tandem-qmp,mode=control"));
  assert_non_null(find_opt(a, "-chardev",
                           "logfile=/run/user/0/tandem/test/console.log"));
  assert_non_null(find_opt(a, "-device", "name=org.tandem.agent.0"));
  assert_non_null(find_opt(a, "-chardev", "id=tandem-agent,path=/run/user/0/"
                                          "tandem/test/agent.sock"));
  assert_non_null(find_opt(a, "-spice", "unix=on,addr=/run/user/0/tandem/"
                                        "test/spice.sock"));
  assert_non_null(find_opt(a, "-device", "VGA"));
  assert_int_equal(count_opt(a, "-device", "pcie-root-port"), 4);
  assert_non_null(find_opt(a, "-device", "id=tandem-hp3,chassis=4"));
  assert_non_null(find_opt(a, "-kernel", "/k"));
  assert_non_null(find_opt(a, "-initrd", "/i"));
  assert_non_null(find_opt(a, "-append", "quiet"));
  assert_null(find_opt(a, "-blockdev", ""));
}

static void test_argv_kvm_paused_no_display(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok("[VM]\nDisplay=none\nHotplugPorts=0\n"
                                         KERNEL_BOOT);
  TandemQemuLaunch l = {"/usr/bin/qemu-system-x86_64", "/r", TANDEM_ACCEL_KVM,
                        TRUE, FALSE, FALSE};
  g_auto(GStrv) a = tandem_qemu_argv_build(c, &l);
  /* A QEMU without seccomp would refuse -sandbox and not start. */
  assert_false(g_strv_contains((const char *const *)a, "-sandbox"));
  assert_non_null(find_opt(a, "-accel", "kvm"));
  assert_non_null(find_opt(a, "-cpu", "host"));
  assert_true(g_strv_contains((const char *const *)a, "-S"));
  assert_null(find_opt(a, "-spice", ""));
  assert_null(find_opt(a, "-device", "VGA"));
  assert_int_equal(count_opt(a, "-device", "pcie-root-port"), 0);
}

/* The window pixels' shared memory: a file the host maps on a boot, private
 * memory on a restore (QEMU 7.2 cannot load a snapshot into shared memory
 * behind a BAR), the device either way, none with PixelMemory=0. */
static void test_argv_pixel_memory(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok(KERNEL_BOOT);
  assert_int_equal(c->pixel_memory, TANDEM_VM_DEFAULT_PIXEL_MEMORY);
  TandemQemuLaunch l = {"/usr/bin/qemu-system-x86_64", "/r", TANDEM_ACCEL_TCG,
                        TRUE, FALSE, FALSE, TRUE};
  g_auto(GStrv) a = tandem_qemu_argv_build(c, &l);
  assert_non_null(find_opt(a, "-object",
                           "memory-backend-file,id=tandem-pixels,"
                           "mem-path=/r/pixels,size=64M,share=on"));
  assert_non_null(find_opt(a, "-device", "ivshmem-plain,id=tandem-pixels-dev,"
                                         "memdev=tandem-pixels,master=on"));
  l.incoming = TRUE;
  g_auto(GStrv) b = tandem_qemu_argv_build(c, &l);
  assert_non_null(find_opt(b, "-object",
                           "memory-backend-ram,id=tandem-pixels,size=64M"));
  assert_null(find_opt(b, "-object", "share=on"));
  assert_non_null(find_opt(b, "-device", "ivshmem-plain"));

  g_autoptr(TandemVmConfig) none = parse_ok("[VM]\nPixelMemory=0\n"
                                            KERNEL_BOOT);
  l.incoming = FALSE;
  g_auto(GStrv) n = tandem_qemu_argv_build(none, &l);
  assert_null(find_opt(n, "-device", "ivshmem"));
  assert_null(find_opt(n, "-object", "tandem-pixels"));

  g_autoptr(TandemVmConfig) big = parse_ok("[VM]\nPixelMemory=256M\n"
                                           KERNEL_BOOT);
  assert_int_equal(big->pixel_memory, 256ull << 20);
  parse_fails("[VM]\nPixelMemory=2M\n" KERNEL_BOOT, "power of two from 4M");
  parse_fails("[VM]\nPixelMemory=48M\n" KERNEL_BOOT, "power of two");
  parse_fails("[VM]\nPixelMemory=2G\n" KERNEL_BOOT, "to 1G");
  parse_fails("[VM]\nPixelMemory=lots\n" KERNEL_BOOT, "not a size");
}

/* The network card: user-mode by default, restricted to its forwards, or
 * none; forwards checked and given to QEMU as guestfwd rules. */
static void test_network(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) c = parse_ok(KERNEL_BOOT);
  assert_int_equal(c->network, TANDEM_NETWORK_USER);
  TandemQemuLaunch l = {"/usr/bin/qemu-system-x86_64", "/r", TANDEM_ACCEL_TCG,
                        TRUE, FALSE, FALSE, TRUE};
  g_auto(GStrv) a = tandem_qemu_argv_build(c, &l);
  assert_non_null(find_opt(a, "-netdev", "user,id=tandem-net"));
  assert_null(find_opt(a, "-netdev", "restrict"));
  assert_non_null(find_opt(a, "-device", "virtio-net-pci,netdev=tandem-net"));

  g_autoptr(TandemVmConfig) r = parse_ok(
      "[VM]\nNetwork=restricted\n"
      "Forward=10.0.2.100:80=127.0.0.1:8080;10.0.2.4:443=192.168.1.9:1\n"
      KERNEL_BOOT);
  assert_int_equal(r->network, TANDEM_NETWORK_RESTRICTED);
  g_auto(GStrv) b = tandem_qemu_argv_build(r, &l);
  assert_non_null(find_opt(b, "-netdev",
                           "user,id=tandem-net,restrict=on,"
                           "guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080,"
                           "guestfwd=tcp:10.0.2.4:443-tcp:192.168.1.9:1"));
  /* Written back as read. */
  g_autofree char *data = tandem_vm_config_to_data(r);
  assert_non_null(strstr(data, "Network=restricted\n"));
  assert_non_null(strstr(data, "Forward=10.0.2.100:80=127.0.0.1:8080;"
                               "10.0.2.4:443=192.168.1.9:1;\n"));

  g_autoptr(TandemVmConfig) n = parse_ok("[VM]\nNetwork=none\n" KERNEL_BOOT);
  g_auto(GStrv) d = tandem_qemu_argv_build(n, &l);
  assert_null(find_opt(d, "-netdev", ""));
  assert_null(find_opt(d, "-device", "virtio-net"));

  parse_fails("[VM]\nNetwork=bridge\n" KERNEL_BOOT, "must be one of");
  parse_fails("[VM]\nNetwork=none\nForward=10.0.2.100:80=127.0.0.1:80\n"
              KERNEL_BOOT, "needs a network");
  static const char *const bad[] = {
      "10.0.2.100:80",                  /* no host side */
      "10.0.2.100:80=127.0.0.1",        /* no port */
      "10.0.3.100:80=127.0.0.1:80",     /* not the guest's network */
      "10.0.2.2:80=127.0.0.1:80",       /* the network's host address */
      "10.0.2.15:80=127.0.0.1:80",      /* the guest itself */
      "10.0.2.100:0=127.0.0.1:80",      /* port 0 */
      "10.0.2.100:80=127.0.0.1:65536",  /* past the last port */
      "10.0.2.300:80=127.0.0.1:80",     /* not an address */
      "10.0.2.100:80=127.0.0.1:80x",    /* trailing junk */
      "10.0.2.100:80=-127.0.0.1:80",    /* a sign */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *conf = g_strdup_printf("[VM]\nForward=%s\n" KERNEL_BOOT,
                                            bad[i]);
    parse_fails(conf, "GUEST:PORT=HOST:PORT");
  }
  parse_fails("[VM]\nForward=10.0.2.4:1=1.1.1.1:1;10.0.2.4:2=1.1.1.1:1;"
              "10.0.2.4:3=1.1.1.1:1;10.0.2.4:4=1.1.1.1:1;10.0.2.4:5=1.1.1.1:1;"
              "10.0.2.4:6=1.1.1.1:1;10.0.2.4:7=1.1.1.1:1;10.0.2.4:8=1.1.1.1:1;"
              "10.0.2.4:9=1.1.1.1:1\n" KERNEL_BOOT, "at most 8");
}

static void test_argv_disks_as_blockdev(void **state) {
  (void)state;
  g_auto(GStrv) a = build("[Boot]\nImage=/vm/boot,1.qcow2\n"
                          "[Disk home]\nPath=/srv/my \"home\".qcow2\n"
                          "ReadOnly=true\n",
                          TANDEM_ACCEL_TCG, "/run/a,b");
  /* A comma in the runtime dir is doubled for QEMU's option syntax. */
  assert_non_null(find_opt(a, "-chardev", "path=/run/a,,b/qmp.sock"));

  const char *boot = find_opt(a, "-blockdev", "\"boot\"");
  const char *home = find_opt(a, "-blockdev", "disk-home");
  assert_non_null(boot);
  assert_non_null(home);
  g_autoptr(JsonNode) n = json_from_string(home, NULL);
  JsonObject *o = json_node_get_object(n);
  assert_string_equal(json_object_get_string_member(o, "node-name"),
                      "disk-home");
  assert_string_equal(json_object_get_string_member(o, "driver"), "qcow2");
  assert_true(json_object_get_boolean_member(o, "read-only"));
  JsonObject *file = json_object_get_object_member(o, "file");
  assert_string_equal(json_object_get_string_member(file, "filename"),
                      "/srv/my \"home\".qcow2");
  assert_string_equal(json_object_get_string_member(file, "node-name"),
                      "disk-home-file");
  g_autoptr(JsonNode) bn = json_from_string(boot, NULL);
  JsonObject *bf = json_object_get_object_member(json_node_get_object(bn),
                                                 "file");
  assert_string_equal(json_object_get_string_member(bf, "filename"),
                      "/vm/boot,1.qcow2"); /* JSON needs no escaping */
  assert_non_null(find_opt(a, "-device", "drive=boot,id=boot-dev,bootindex=0"));
  assert_non_null(find_opt(a, "-device",
                           "virtio-blk-pci,drive=disk-home,id=disk-home-dev,"
                           "serial=home"));
  assert_null(find_opt(a, "-kernel", ""));
}

/* The seccomp filter with every optional set denied, given once, and
 * nothing that would need what it denies: QEMU stays the user's (no -runas,
 * no -run-with, no -daemonize) and nothing is exec:. */
static void test_argv_sandbox(void **state) {
  (void)state;
  g_auto(GStrv) a = build("[Boot]\nImage=/vm/boot.qcow2\n"
                          "[Disk home]\nPath=/srv/home.qcow2\n",
                          TANDEM_ACCEL_TCG, "/run/user/1000/tandem/test");
  assert_int_equal(count_opt(a, "-sandbox", ""), 1);
  const char *sandbox = find_opt(a, "-sandbox", "");
  assert_string_equal(sandbox, "on,obsolete=deny,elevateprivileges=deny,"
                               "spawn=deny,resourcecontrol=deny");
  assert_string_equal(sandbox, TANDEM_QEMU_SANDBOX);
  g_auto(GStrv) sets = g_strsplit(sandbox, ",", -1);
  assert_string_equal(sets[0], "on");
  for (int i = 1; sets[i]; i++)
    if (!g_str_has_suffix(sets[i], "=deny"))
      fail_msg("-sandbox allows %s", sets[i]);
  assert_int_equal(g_strv_length(sets), 5);
  for (int i = 0; a[i]; i++) {
    assert_false(g_str_equal(a[i], "-runas"));
    assert_false(g_str_equal(a[i], "-run-with"));
    assert_false(g_str_equal(a[i], "-daemonize"));
    assert_null(strstr(a[i], "exec:"));
  }
  /* Before anything of the guest's. */
  int at_sandbox = -1, at_device = -1;
  for (int i = 0; a[i]; i++) {
    if (g_str_equal(a[i], "-sandbox") && at_sandbox < 0)
      at_sandbox = i;
    if (g_str_equal(a[i], "-device") && at_device < 0)
      at_device = i;
  }
  assert_true(at_sandbox > 0 && at_sandbox < at_device);
}

static void test_opt_escape(void **state) {
  (void)state;
  g_autofree char *a = tandem_qemu_opt_escape("a,b,,c");
  assert_string_equal(a, "a,,b,,,,c");
  g_autofree char *b = tandem_qemu_opt_escape("");
  assert_string_equal(b, "");
}

/* [Limits]: what a guest may take on the host, kept when saved, refused
 * out of range with the section named. */
static void test_limits(void **state) {
  (void)state;
  g_autoptr(TandemVmConfig) none = parse_ok(KERNEL_BOOT);
  assert_int_equal(none->limit_window_memory, 0);
  g_autofree char *none_text = tandem_vm_config_to_data(none);
  assert_null(strstr(none_text, "[Limits]"));
  g_autoptr(TandemVmConfig) c = parse_ok(
      KERNEL_BOOT "[Limits]\nWindowMemory=1G\nCatalogMemory=16M\n"
                  "OutputQueue=100000\n");
  assert_int_equal(c->limit_window_memory, 1ull << 30);
  assert_int_equal(c->limit_catalog_memory, 16ull << 20);
  assert_int_equal(c->limit_output_queue, 100000);
  g_autofree char *text = tandem_vm_config_to_data(c);
  assert_non_null(strstr(text, "WindowMemory=1024M"));
  assert_non_null(strstr(text, "CatalogMemory=16M"));
  assert_non_null(strstr(text, "OutputQueue=100000"));
  g_autoptr(TandemVmConfig) again = parse_ok(text);
  assert_int_equal(again->limit_output_queue, 100000);
  const char *bad[] = {"WindowMemory=1K", "CatalogMemory=65G",
                       "OutputQueue=lots", "Memory=1G"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *bad_text =
        g_strdup_printf(KERNEL_BOOT "[Limits]\n%s\n", bad[i]);
    g_autoptr(GError) e = NULL;
    g_autoptr(TandemVmConfig) no =
        tandem_vm_config_parse("vm", bad_text, "/", &e);
    if (no)
      fail_msg("%s was accepted", bad[i]);
    assert_non_null(strstr(e->message, "[Limits]"));
  }
}

/* Network disks: kept as written, read back the same, bounded; the address
 * itself is the disk manager's to check. */
static void test_storage(void **state) {
  (void)state;
  const char *text = KERNEL_BOOT
      "[Storage photos]\nURI=nbd://nas.local/photos\n"
      "Mirror=nbd://nas2.local/photos\n"
      "[Storage scratch.1]\nURI=nbd+unix:///s?socket=/run/s.sock\n"
      "Bus=virtio\nReadOnly=true\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemVmConfig) c = tandem_vm_config_parse("vm", text, "/",
                                                       &error);
  assert_non_null(c);
  assert_int_equal(c->attachments->len, 2);
  TandemVmAttachment *p = tandem_vm_config_find_attachment(c, "photos");
  assert_non_null(p);
  assert_string_equal(p->uri, "nbd://nas.local/photos");
  assert_string_equal(p->mirror, "nbd://nas2.local/photos");
  assert_string_equal(p->bus, "nvme"); /* the default */
  assert_false(p->read_only);
  TandemVmAttachment *s = tandem_vm_config_find_attachment(c, "scratch.1");
  assert_string_equal(s->bus, "virtio");
  assert_true(s->read_only);
  assert_null(s->mirror);
  assert_null(tandem_vm_config_find_attachment(c, "nope"));
  /* Saved and read back: the same. */
  g_autofree char *data = tandem_vm_config_to_data(c);
  g_autoptr(TandemVmConfig) again =
      tandem_vm_config_parse("vm", data, "/", &error);
  assert_non_null(again);
  assert_int_equal(again->attachments->len, 2);
  assert_string_equal(
      tandem_vm_config_find_attachment(again, "scratch.1")->uri,
      "nbd+unix:///s?socket=/run/s.sock");
  assert_string_equal(tandem_vm_config_find_attachment(again, "photos")->mirror,
                      "nbd://nas2.local/photos");
  assert_null(tandem_vm_config_find_attachment(again, "scratch.1")->mirror);
  static const char *const bad[] = {
      "[Storage photos]\nBus=nvme\n",              /* no URI */
      "[Storage photos]\nURI=nbd://h/e\nBus=scsi\n",
      "[Storage photos]\nURI=nbd://h/e\nReadOnly=maybe\n",
      "[Storage photos]\nURI=nbd://h/e\nPath=/x\n", /* unknown key */
      "[Storage -x]\nURI=nbd://h/e\n",
      "[Storage a/b]\nURI=nbd://h/e\n",
      "[Storage ]\nURI=nbd://h/e\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *t = g_strdup_printf(KERNEL_BOOT "%s", bad[i]);
    g_autoptr(GError) e = NULL;
    g_autoptr(TandemVmConfig) no = tandem_vm_config_parse("vm", t, "/", &e);
    if (no)
      fail_msg("accepted: %s", bad[i]);
    assert_non_null(strstr(e->message, "Storage"));
  }
  /* More than there are ports. */
  GString *many = g_string_new(KERNEL_BOOT);
  for (int i = 0; i <= TANDEM_VM_MAX_ATTACHMENTS; i++)
    g_string_append_printf(many, "[Storage d%d]\nURI=nbd://h/e%d\n", i, i);
  g_autoptr(GError) e = NULL;
  g_autoptr(TandemVmConfig) no = tandem_vm_config_parse("vm", many->str, "/",
                                                        &e);
  assert_null(no);
  g_string_free(many, TRUE);
  assert_true(tandem_vm_attachment_name_is_valid("a.b_c-1"));
  assert_false(tandem_vm_attachment_name_is_valid(".."));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_storage),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_image_boot),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_bad_vm_name),
      cmocka_unit_test(test_missing_files),
      cmocka_unit_test(test_save_load_roundtrip),
      cmocka_unit_test(test_snapshot_schedule),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_argv_kernel_tcg),
      cmocka_unit_test(test_argv_kvm_paused_no_display),
      cmocka_unit_test(test_argv_pixel_memory),
      cmocka_unit_test(test_network),
      cmocka_unit_test(test_argv_disks_as_blockdev),
      cmocka_unit_test(test_argv_sandbox),
      cmocka_unit_test(test_opt_escape),
  };
  return cmocka_run_group_tests_name("vm-config", tests, NULL, NULL);
}
