/* slowload: a plugin whose library constructor takes its time (a heavy initialisation, a slow
 * disk). With SLOWLOAD_GATE=<dir> in the environment it creates <dir>/started and waits until
 * <dir>/go exists (at most 30 s), so a test can check what the server does meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void wait_for_gate(void) {
    const char *gate = getenv("SLOWLOAD_GATE");
    char path[4096];
    FILE *started;
    if (!gate) return;
    snprintf(path, sizeof path, "%s/started", gate);
    started = fopen(path, "w");
    if (started) fclose(started);
    snprintf(path, sizeof path, "%s/go", gate);
    for (int i = 0; i < 3000 && access(path, F_OK) != 0; i++) usleep(10000);
}

void *PluginNew(void) { static int instance; return &instance; }
const char *PluginName(void *plugin) { (void)plugin; return "slowload"; }
