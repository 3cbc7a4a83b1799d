/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-qemu-argv.h"

#include <json-glib/json-glib.h>
#include <string.h>

char *tandem_qemu_opt_escape(const char *value) {
  GString *s = g_string_sized_new(strlen(value) + 8);
  for (const char *p = value; *p; p++) {
    if (*p == ',')
      g_string_append_c(s, ',');
    g_string_append_c(s, *p);
  }
  return g_string_free(s, FALSE);
}

static void add(GPtrArray *argv, const char *arg) {
  g_ptr_array_add(argv, g_strdup(arg));
}

static void add_pair(GPtrArray *argv, const char *opt, char *value) {
  g_ptr_array_add(argv, g_strdup(opt));
  g_ptr_array_add(argv, value); /* taken */
}

static char *runtime_path(const TandemQemuLaunch *l, const char *file) {
  g_autofree char *path = g_build_filename(l->runtime_dir, file, NULL);
  return tandem_qemu_opt_escape(path);
}

/* -blockdev in JSON form, so no path needs option-syntax escaping: a
 * protocol node "NODE-file" under a format node "NODE". Stable node names
 * let snapshots and storage address disks later. */
static char *blockdev_json(const char *node, const char *path,
                           const char *format, gboolean read_only) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autofree char *file_node = g_strconcat(node, "-file", NULL);
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "driver");
  json_builder_add_string_value(b, format);
  json_builder_set_member_name(b, "node-name");
  json_builder_add_string_value(b, node);
  json_builder_set_member_name(b, "read-only");
  json_builder_add_boolean_value(b, read_only);
  json_builder_set_member_name(b, "file");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "driver");
  json_builder_add_string_value(b, "file");
  json_builder_set_member_name(b, "node-name");
  json_builder_add_string_value(b, file_node);
  json_builder_set_member_name(b, "filename");
  json_builder_add_string_value(b, path);
  json_builder_set_member_name(b, "read-only");
  json_builder_add_boolean_value(b, read_only);
  json_builder_end_object(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

static void add_socket_chardev(GPtrArray *argv, const TandemQemuLaunch *l,
                               const char *id, const char *file,
                               const char *extra) {
  g_autofree char *path = runtime_path(l, file);
  add_pair(argv, "-chardev",
           g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off%s", id,
                           path, extra ? extra : ""));
}

GStrv tandem_qemu_argv_build(const TandemVmConfig *c,
                             const TandemQemuLaunch *l) {
  g_return_val_if_fail(l->accel != TANDEM_ACCEL_AUTO, NULL);
  GPtrArray *argv = g_ptr_array_new();
  gboolean kvm = l->accel == TANDEM_ACCEL_KVM;

  add(argv, l->qemu_binary);
  add_pair(argv, "-name",
           g_strdup_printf("guest=%s,process=tandem-%s", c->name, c->name));
  /* Installed before QEMU looks at the guest: a QEMU the guest takes over
   * still cannot exec, fork, change its IDs or its scheduling. */
  if (l->sandbox)
    add_pair(argv, "-sandbox", g_strdup(TANDEM_QEMU_SANDBOX));
  add_pair(argv, "-machine", g_strdup("q35"));
  add_pair(argv, "-accel", g_strdup(kvm ? "kvm" : "tcg"));
  add_pair(argv, "-cpu", g_strdup(kvm ? "host" : "max"));
  add_pair(argv, "-m", g_strdup_printf("%" G_GUINT64_FORMAT "M",
                                       c->memory >> 20));
  add_pair(argv, "-smp", g_strdup_printf("%u", c->cpus));
  /* Only what is listed here: no default NIC, serial, floppy, CD-ROM. */
  add(argv, "-nodefaults");
  add(argv, "-no-user-config");
  add_pair(argv, "-nic", g_strdup("none"));
  add_pair(argv, "-msg", g_strdup("timestamp=on"));
  if (l->start_paused)
    add(argv, "-S");
  if (l->incoming) /* the state comes later, through migrate-incoming */
    add_pair(argv, "-incoming", g_strdup("defer"));

  /* Control: QMP, and the serial console (kept in console.log). */
  add_socket_chardev(argv, l, "tandem-qmp", TANDEM_RUNTIME_QMP, NULL);
  add_pair(argv, "-mon", g_strdup("chardev=tandem-qmp,mode=control"));
  {
    g_autofree char *log = runtime_path(l, TANDEM_RUNTIME_CONSOLE_LOG);
    g_autofree char *extra = g_strdup_printf(",logfile=%s,logappend=off", log);
    add_socket_chardev(argv, l, "tandem-console", TANDEM_RUNTIME_CONSOLE,
                       extra);
  }
  add_pair(argv, "-serial", g_strdup("chardev:tandem-console"));

  /* The agent's channel. */
  add_pair(argv, "-device", g_strdup("virtio-serial-pci,id=tandem-vserial"));
  add_socket_chardev(argv, l, "tandem-agent", TANDEM_RUNTIME_AGENT, NULL);
  add_pair(argv, "-device",
           g_strdup("virtserialport,bus=tandem-vserial.0,chardev=tandem-agent,"
                    "name=" TANDEM_AGENT_PORT_NAME));

  /* Display: SPICE on a UNIX socket and a standard VGA the guest's
   * modesetting driver handles. */
  add_pair(argv, "-display", g_strdup("none"));
  if (c->display == TANDEM_DISPLAY_SPICE) {
    g_autofree char *spice = runtime_path(l, TANDEM_RUNTIME_SPICE);
    add_pair(argv, "-spice",
             g_strdup_printf("unix=on,addr=%s,disable-ticketing=on", spice));
    add_pair(argv, "-device", g_strdup("VGA,id=tandem-vga"));
  }

  /* Window pixels the agent and the host both map: a file in the runtime
   * directory (shared with QEMU, so the host maps it too) behind an
   * ivshmem-plain device, BAR 2 in the guest. master=on lets the VM be
   * saved; snapshots leave the shared memory out (x-ignore-shared).
   * A restored VM gets private memory there instead: QEMU 7.2 refuses to
   * load a snapshot into shared memory whose BAR the guest has not mapped
   * yet ("Mismatched GPAs"), so its pixels take the channel until the
   * next cold boot. The device is there either way: the guest's memory
   * remembers it. */
  if (c->pixel_memory) {
    if (l->pixel_region && !l->incoming) {
      g_autofree char *pixels = runtime_path(l, TANDEM_RUNTIME_PIXELS);
      add_pair(argv, "-object",
               g_strdup_printf("memory-backend-file,id=tandem-pixels,"
                               "mem-path=%s,size=%" G_GUINT64_FORMAT "M,"
                               "share=on",
                               pixels, c->pixel_memory >> 20));
    } else {
      add_pair(argv, "-object",
               g_strdup_printf("memory-backend-ram,id=tandem-pixels,"
                               "size=%" G_GUINT64_FORMAT "M",
                               c->pixel_memory >> 20));
    }
    add_pair(argv, "-device",
             g_strdup("ivshmem-plain,id=tandem-pixels-dev,"
                      "memdev=tandem-pixels,master=on,bus=pcie.0"));
  }

  /* The network: a virtio card on QEMU's user-mode network (no privileges
   * on the host; the guest's DHCP client configures it), restricted to
   * the listed forwards if asked. No boot ROM: nothing boots from it. */
  if (c->network != TANDEM_NETWORK_NONE) {
    GString *net = g_string_new("user,id=tandem-net");
    if (c->network == TANDEM_NETWORK_RESTRICTED)
      g_string_append(net, ",restrict=on");
    for (guint i = 0; c->forwards && c->forwards[i]; i++) {
      guint8 gi[4], hi[4];
      guint gp, hp;
      if (tandem_vm_forward_parse(c->forwards[i], gi, &gp, hi, &hp))
        g_string_append_printf(net,
                               ",guestfwd=tcp:%u.%u.%u.%u:%u-tcp:%u.%u.%u.%u:%u",
                               gi[0], gi[1], gi[2], gi[3], gp, hi[0], hi[1],
                               hi[2], hi[3], hp);
    }
    add_pair(argv, "-netdev", g_string_free(net, FALSE));
    add_pair(argv, "-device",
             g_strdup("virtio-net-pci,netdev=tandem-net,id=tandem-nic,"
                      "bus=pcie.0,romfile="));
  }

  /* Empty root ports, so disks can be hot-plugged later (q35's pcie.0 does
   * not take hot-plug). */
  for (guint i = 0; i < c->hotplug_ports; i++)
    add_pair(argv, "-device",
             g_strdup_printf("pcie-root-port,id=" TANDEM_HOTPLUG_PORT_PREFIX
                             "%u,chassis=%u,bus=pcie.0",
                             i, i + 1));

  if (c->kernel) {
    add_pair(argv, "-kernel", g_strdup(c->kernel));
    if (c->initrd)
      add_pair(argv, "-initrd", g_strdup(c->initrd));
    if (c->cmdline)
      add_pair(argv, "-append", g_strdup(c->cmdline));
  } else {
    add_pair(argv, "-blockdev",
             blockdev_json("boot", c->image, c->image_format, FALSE));
    add_pair(argv, "-device",
             g_strdup("virtio-blk-pci,drive=boot,id=boot-dev,bootindex=0"));
  }
  for (guint i = 0; i < c->disks->len; i++) {
    const TandemVmDisk *d = c->disks->pdata[i];
    g_autofree char *node = g_strconcat("disk-", d->name, NULL);
    add_pair(argv, "-blockdev",
             blockdev_json(node, d->path, d->format, d->read_only));
    add_pair(argv, "-device",
             g_strdup_printf("virtio-blk-pci,drive=%s,id=%s-dev,serial=%s",
                             node, node, d->name));
  }
  g_ptr_array_add(argv, NULL);
  return (GStrv)g_ptr_array_free(argv, FALSE);
}
