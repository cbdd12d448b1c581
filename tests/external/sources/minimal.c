/* minimal: only PluginNew. The host names it after the file and answers "not implemented". */
void *PluginNew(void) { static int instance; return &instance; }
