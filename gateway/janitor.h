/* Background removal of deleted apps' data. DeleteApp removes the app record and adds the id to
 * rp:purge; the janitor then unlinks every key under the app's hash tags in batches, so a
 * million-endpoint app is deleted without a long blocking command, and a restart resumes it.
 * It also converts, once, the endpoints an older Repoint stored in its older layout. */
#ifndef RP_JANITOR_H
#define RP_JANITOR_H

int rp_janitor_start(void);
void rp_janitor_stop(void);
/* One pass over rp:purge (exposed for tests). Returns the number of apps finished, or RP_ESTORE. */
int rp_janitor_run_once(void);

#endif
