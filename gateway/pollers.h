/* Background threads that poll Redis for work: each calls work() again at once while it finds
 * some, and otherwise waits a short idle period, which a stop cuts short. Import/export job
 * runners and the campaign schedulers are such pools. */
#ifndef RP_POLLERS_H
#define RP_POLLERS_H

#include <pthread.h>
#include <stdatomic.h>

struct rp_pollers {
    const char *name;  /* for the log */
    int (*work)(void); /* 1: did some work, call again; 0: nothing to do now */
    int idle_ms;
    /* Set up by RP_POLLERS_INIT; owned by the pool. */
    atomic_int stopping;
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t idle_lock;
    pthread_cond_t idle_cond;
};

#define RP_POLLERS_INIT(pool_name, work_fn, idle)                                                  \
    {.name = (pool_name), .work = (work_fn), .idle_ms = (idle),                                    \
     .idle_lock = PTHREAD_MUTEX_INITIALIZER, .idle_cond = PTHREAD_COND_INITIALIZER}

/* Starts count threads (none when count <= 0). Returns 0 or RP_EFATAL (logged; none left). */
int rp_pollers_start(struct rp_pollers *p, int count);
/* Wakes the idle threads and joins them all; work in progress should watch
 * rp_pollers_stopping and return. */
void rp_pollers_stop(struct rp_pollers *p);
int rp_pollers_stopping(struct rp_pollers *p);

#endif
