/*===- icount.c - QEMU TCG plugin counting executed guest instructions ----===//
//
// Loaded by `motec run --count-instructions` into qemu-system-arm,
// qemu-aarch64 or qemu-hexagon with -plugin libmote-icount.so,outfile=PATH.
// At translation time every translation block gets an inline counter add of
// its instruction count; the emulator executes it each time the block runs,
// with no helper call. At exit the total is written to PATH in decimal (to
// QEMU's plugin log when no outfile is given). The count depends only on the
// guest program and its inputs, so it is deterministic from run to run.
//
// QEMU ships no qemu-plugin.h in Debian; the few declarations used here are
// written out below against the plugin API version 1 (QEMU 7.2).
//
//===----------------------------------------------------------------------===*/

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- the subset of the QEMU plugin API this plugin uses (version 1) ---- */

#define MOTE_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
struct qemu_info_t; /* passed to qemu_plugin_install; not read here */
struct qemu_plugin_tb;

enum qemu_plugin_op {
  QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
                                              enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

/* QEMU refuses plugins without this symbol (or of another API version). */
MOTE_PLUGIN_EXPORT int qemu_plugin_version = 1;

MOTE_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const struct qemu_info_t *info,
                                           int argc, char **argv);

/* ---- the plugin ---- */

/* The boards and user-mode programs mote runs have one vCPU (one thread),
   so one plain counter is exact. */
static uint64_t Executed;
static char OutFile[4096];

static void onTranslate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                           &Executed,
                                           qemu_plugin_tb_n_insns(tb));
}

static void onExit(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  char Text[32];
  snprintf(Text, sizeof Text, "%llu\n", (unsigned long long)Executed);
  if (!OutFile[0]) {
    qemu_plugin_outs(Text);
    return;
  }
  FILE *F = fopen(OutFile, "w");
  if (!F || fputs(Text, F) == EOF || fclose(F) != 0)
    fprintf(stderr, "mote-icount: cannot write %s\n", OutFile);
}

int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info,
                        int argc, char **argv) {
  (void)info;
  for (int I = 0; I < argc; ++I) {
    const char *Key = "outfile=";
    if (strncmp(argv[I], Key, strlen(Key)) != 0) {
      fprintf(stderr, "mote-icount: unknown argument '%s' (takes outfile=PATH)\n",
              argv[I]);
      return -1;
    }
    snprintf(OutFile, sizeof OutFile, "%s", argv[I] + strlen(Key));
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, onTranslate);
  qemu_plugin_register_atexit_cb(id, onExit, NULL);
  return 0;
}
