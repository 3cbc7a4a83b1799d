/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The default guest as the benchmarks boot it: the image as built, with a
 * second initramfs archive appended to the guest's (the kernel unpacks
 * every archive of a concatenation in turn, later files replacing earlier
 * ones), so the image needs no rebuilding and stays untouched. The
 * overlay carries this build's binaries (with their libraries, from ldd,
 * under /usr/lib) and desktop entries for them; the home disk is a
 * throwaway qcow2 overlay of the image's. Shared by bench-pixels and
 * bench-proxy. */
#include "bench-pixels.h"

#include <glib/gstdio.h>
#include <string.h>

#include "test-wait.h"

#define SESSION_MARKER "TANDEM-GUEST: session ready"

char *px_guest_dir(void) {
  const char *env = g_getenv("TANDEM_DEFAULT_GUEST");
  if (env && *env)
    return g_strdup(env);
  const char *src = g_getenv("TANDEM_SOURCE_ROOT");
  return g_build_filename(src && *src ? src : BENCH_SOURCE_ROOT, "build",
                          "default-guest", NULL);
}

/* Copies @src to @root/@dest (0755 directories, the file's own mode). */
static gboolean stage(const char *root, const char *src, const char *dest,
                      GError **error) {
  g_autofree char *to = g_build_filename(root, dest, NULL);
  g_autofree char *parent = g_path_get_dirname(to);
  g_autofree char *data = NULL;
  gsize len;
  if (g_mkdir_with_parents(parent, 0755) != 0 ||
      !g_file_get_contents(src, &data, &len, error) ||
      !g_file_set_contents_full(to, data, (gssize)len,
                                G_FILE_SET_CONTENTS_NONE, 0755, error))
    return FALSE;
  return TRUE;
}

/* @elf and every library ldd names for it, the libraries under /usr/lib
 * (the image has a merged /usr). The dynamic loader is the image's own. */
static gboolean stage_elf(const char *root, const char *elf, const char *dest,
                          GError **error) {
  if (!stage(root, elf, dest, error))
    return FALSE;
  g_autofree char *out = NULL;
  const char *argv[] = {"ldd", elf, NULL};
  int status;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, &out, NULL, &status, error))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
  for (char **l = lines; *l; l++) {
    char *arrow = strstr(*l, "=> /");
    if (!arrow)
      continue;
    g_autofree char *path = g_strndup(arrow + 3, strcspn(arrow + 3, " "));
    const char *rel = g_str_has_prefix(path, "/usr/") ? path + 5 : path + 1;
    g_autofree char *d = g_build_filename("usr", rel, NULL);
    if (!stage(root, path, d, error))
      return FALSE;
  }
  return TRUE;
}

char *px_anim_desktop(const char *exec, const char *mode, double fps,
                      const char *log) {
  g_autofree char *log_arg = log ? g_strdup_printf(" --log %s", log)
                                 : g_strdup("");
  return g_strdup_printf(
      "[Desktop Entry]\nType=Application\nName=Bench animation (%s)\n"
      "Exec=%s --mode %s --fps %g --seconds 600%s\n"
      "Terminal=false\nStartupWMClass=TandemBenchAnim\n",
      mode, exec, mode, fps, log_arg);
}

char *px_guest_initrd(const char *guest, const char *dir,
                      const PxOverlayFile *files, const PxOverlayApp *apps,
                      GError **error) {
  g_autofree char *root = g_build_filename(dir, "overlay", NULL);
  for (const PxOverlayFile *f = files; f && f->src; f++)
    if (!(f->data ? stage(root, f->src, f->dest, error)
                  : stage_elf(root, f->src, f->dest, error)))
      return NULL;
  for (const PxOverlayApp *a = apps; a && a->id; a++) {
    g_autofree char *name = g_strdup_printf("usr/share/applications/%s.desktop",
                                            a->id);
    g_autofree char *path = g_build_filename(root, name, NULL);
    g_autofree char *parent = g_path_get_dirname(path);
    g_mkdir_with_parents(parent, 0755);
    if (!g_file_set_contents_full(path, a->text, -1, G_FILE_SET_CONTENTS_NONE,
                                  0644, error))
      return NULL;
  }
  /* cpio (newc, owned by root) of the tree, the list from find. */
  g_autofree char *list = NULL;
  const char *find[] = {"find", ".", "-mindepth", "1", NULL};
  if (!g_spawn_sync(root, (char **)find, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, &list, NULL, NULL, error))
    return NULL;
  g_autofree char *cpio_path = g_build_filename(dir, "overlay.cpio", NULL);
  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_subprocess_launcher_set_cwd(l, root);
  g_subprocess_launcher_set_stdout_file_path(l, cpio_path);
  g_autoptr(GSubprocess) cpio = g_subprocess_launcher_spawn(
      l, error, "cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet", NULL);
  if (!cpio || !g_subprocess_communicate_utf8(cpio, list, NULL, NULL, NULL,
                                              error))
    return NULL;
  if (!g_subprocess_get_successful(cpio)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cpio failed");
    return NULL;
  }
  g_autofree char *base_path = g_build_filename(guest, "initramfs.img", NULL);
  g_autofree char *base = NULL, *extra = NULL;
  gsize base_len, extra_len;
  if (!g_file_get_contents(base_path, &base, &base_len, error) ||
      !g_file_get_contents(cpio_path, &extra, &extra_len, error))
    return NULL;
  /* Archives start on 4-byte boundaries; the kernel skips zero padding. */
  g_autoptr(GByteArray) all = g_byte_array_sized_new(base_len + extra_len + 4);
  static const guint8 zeros[4] = {0};
  g_byte_array_append(all, (guint8 *)base, (guint)base_len);
  g_byte_array_append(all, zeros, (guint)((4 - base_len % 4) % 4));
  g_byte_array_append(all, (guint8 *)extra, (guint)extra_len);
  char *out = g_build_filename(dir, "initrd.img", NULL);
  if (!g_file_set_contents(out, (char *)all->data, all->len, error)) {
    g_free(out);
    return NULL;
  }
  return out;
}

char *px_guest_home(const char *guest, const char *dir) {
  g_autofree char *base = g_build_filename(guest, "home.qcow2", NULL);
  char *overlay = g_build_filename(dir, "home.qcow2", NULL);
  const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-b",
                        base, "-F", "qcow2", overlay, NULL};
  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
               NULL, NULL, NULL, NULL);
  return overlay;
}

char *px_guest_config(const char *guest, const char *initrd,
                      const char *home, const char *cmdline_extra) {
  g_autofree char *kernel = g_build_filename(guest, "vmlinuz", NULL);
  return g_strdup_printf(
      "[VM]\nMemory=1G\nCPUs=2\nAccelerator=tcg\nDisplay=spice\n"
      "[Boot]\nKernel=%s\nInitrd=%s\nCommandLine=console=ttyS0 quiet%s%s\n"
      "[Disk home]\nPath=%s\n",
      kernel, initrd, cmdline_extra ? " " : "",
      cmdline_extra ? cmdline_extra : "", home);
}

static void on_line(TandemVm *vm, const char *line, gpointer data) {
  if (strstr(line, SESSION_MARKER))
    *(gboolean *)data = TRUE;
}

/* A completion flag that outlives a wait given up on: the callback frees
 * it if nobody waits any more. */
typedef struct {
  gboolean done, abandoned;
} Completion;

static void on_done(GObject *s, GAsyncResult *r, gpointer data) {
  Completion *c = data;
  if (c->abandoned)
    g_free(c);
  else
    c->done = TRUE;
}

static gboolean wait_completion(Completion *c, double seconds) {
  gboolean ok = tandem_test_wait(&c->done, seconds);
  if (ok)
    g_free(c);
  else
    c->abandoned = TRUE;
  return ok;
}

gboolean px_guest_boot(TandemVm *vm, double *boot_s, GError **error) {
  gboolean ready = FALSE;
  Completion *started = g_new0(Completion, 1);
  gulong h = g_signal_connect(vm, "console-line", G_CALLBACK(on_line),
                              &ready);
  gint64 t_boot = px_now_ns();
  tandem_vm_start_async(vm, NULL, on_done, started);
  /* A start that failed (QEMU exited) is not waited on for minutes. */
  gboolean ok = wait_completion(started, 60) &&
                tandem_vm_get_state(vm) == TANDEM_VM_RUNNING &&
                tandem_test_wait(&ready, 300);
  g_signal_handler_disconnect(vm, h);
  if (!ok) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "the default guest did not reach \"%s\" (state %s)",
                SESSION_MARKER,
                tandem_vm_state_to_string(tandem_vm_get_state(vm)));
    return FALSE;
  }
  *boot_s = (double)(px_now_ns() - t_boot) / 1e9;
  return TRUE;
}

void px_guest_stop(TandemVm *vm) {
  Completion *stopped = g_new0(Completion, 1);
  tandem_vm_stop_async(vm, TRUE, NULL, on_done, stopped);
  wait_completion(stopped, 30);
}
